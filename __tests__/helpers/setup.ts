// Runs before every test file (jest.config.js: setupFilesAfterEnv).
import { silenceCpuBanner } from '../../lib/cli/tfjs-banner';
import { closeOpened } from './generators';

// TF.js's "Hi, looks like you are running TensorFlow.js in Node.js" would fill the output.
silenceCpuBanner();

afterEach(closeOpened);
