/** Why a call was refused. Codes are stable: callers may switch on them. */
export type EntropixErrorCode =
  | 'INVALID_ARGUMENT' // a value outside its allowed range, or of the wrong JS type
  | 'INVALID_SHAPE' // a tensor of the wrong rank, or whose sizes disagree with another argument
  | 'INVALID_DTYPE' // a tensor of the wrong dtype
  | 'UNKNOWN_BACKEND' // a backend name this package does not know
  | 'BACKEND_UNAVAILABLE' // a known backend whose package is not installed or failed to start
  | 'ABORTED'; // the caller's AbortSignal fired

/** The one error type this package throws on bad input. `argument` names the offending argument. */
export class EntropixError extends Error {
  override readonly name = 'EntropixError';
  constructor(
    readonly code: EntropixErrorCode,
    message: string,
    readonly argument?: string,
  ) {
    super(message);
  }
}
