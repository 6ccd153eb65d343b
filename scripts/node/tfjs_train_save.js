// Builds and trains a small CNN in TensorFlow.js (@tensorflow/tfjs, pure
// JavaScript) and saves it in the Layers format with a save handler that
// writes files, for Capa's import test:
//   node tfjs_train_save.js DIR
// writes DIR/model.json, DIR/weights.bin, and DIR/check.json: an input
// batch (N, 12, 12, 2) and the model's predictions on it.
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const path = require('path');

function fileSaver(dir) {
  return {
    save: async (a) => {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(a.weightData));
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
        modelTopology: a.modelTopology, format: a.format, generatedBy: a.generatedBy,
        convertedBy: a.convertedBy || null,
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  };
}

async function main() {
  const dir = process.argv[2];
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [12, 12, 2], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', seed: 1 }));
  m.add(tf.layers.batchNormalization());
  m.add(tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.dropout({ rate: 0.25 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 16, activation: 'tanh' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  m.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy' });
  const n = 64;
  const x = tf.randomNormal([n, 12, 12, 2], 0, 1, 'float32', 7);
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'float32');
  await m.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0 });
  await m.save(fileSaver(dir));
  const xs = x.slice([0, 0, 0, 0], [4, 12, 12, 2]);
  const p = m.predict(xs);
  fs.writeFileSync(path.join(dir, 'check.json'), JSON.stringify({
    input_shape: xs.shape, input: Array.from(await xs.data()), output: Array.from(await p.data()),
  }));
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
