// Runs an ONNX model in ONNX Runtime (onnxruntime-node) on one float32
// input, for Capa's interchange tests:
//   node ort_run.js model.onnx input.f32 N,H,W,C output.f32
// input.f32 and output.f32 are raw little-endian float32; the output's
// dimensions are printed as JSON.
const ort = require('onnxruntime-node');
const fs = require('fs');

async function main() {
  const [model, inPath, dims, outPath] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const buf = fs.readFileSync(inPath);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const shape = dims.split(',').map(Number);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  const out = (await session.run(feeds))[session.outputNames[0]];
  fs.writeFileSync(outPath, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  console.log(JSON.stringify(out.dims));
}

main().catch((e) => { console.error(String(e)); process.exit(1); });
