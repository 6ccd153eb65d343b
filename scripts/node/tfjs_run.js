// Loads a TensorFlow.js Layers model (model.json and its weight shards,
// read from files) with tf.loadLayersModel and runs it on one float32
// input, for Capa's interchange tests:
//   node tfjs_run.js DIR/model.json input.f32 N,H,W,C output.f32
// input.f32 and output.f32 are raw little-endian float32; the output's
// dimensions are printed as JSON.
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const path = require('path');

// fileHandler is an io.IOHandler reading the files (pure tfjs has no file://).
function fileHandler(modelPath) {
  return {
    load: async () => {
      const doc = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
      const specs = [];
      const parts = [];
      for (const group of doc.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) parts.push(fs.readFileSync(path.join(path.dirname(modelPath), p)));
      }
      const all = Buffer.concat(parts);
      return {
        modelTopology: doc.modelTopology, format: doc.format, generatedBy: doc.generatedBy,
        weightSpecs: specs, weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

async function main() {
  const [model, inPath, dims, outPath] = process.argv.slice(2);
  const m = await tf.loadLayersModel(fileHandler(model), { strict: true });
  const buf = fs.readFileSync(inPath);
  const x = tf.tensor(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4), dims.split(',').map(Number));
  const y = m.predict(x);
  const data = await y.data();
  fs.writeFileSync(outPath, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  console.log(JSON.stringify(y.shape));
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
