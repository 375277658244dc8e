"""One ONNX graph of 32 MatMuls x [M, 576] · W_i [576, 1536] (distinct weights, 113 MB, so the reads
come from memory), for benchmarks/peer/matmul.ts to time onnxruntime-node's kernel against tfjs-wasm's.

    python benchmarks/peer/export_matmul.py benchmarks/peer/out/matmul.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

K, N, COUNT = 576, 1536, 32
rng = np.random.default_rng(1)
weights = [numpy_helper.from_array((rng.standard_normal((K, N)) * 0.02).astype(np.float32), f"w{i}") for i in range(COUNT)]
nodes = [helper.make_node("MatMul", ["x", f"w{i}"], [f"y{i}"]) for i in range(COUNT)]
graph = helper.make_graph(
    nodes, "matmuls", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["m", K])],
    [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, ["m", N]) for i in range(COUNT)], weights)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
print(f"{sys.argv[1]}: {COUNT} MatMuls [m, {K}] x [{K}, {N}]")
