package interchange_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa/interchange"
)

// TestImportKerasH5 reads a Keras 2 whole-model file in Keras's layout
// (scripts/make_keras_model_h5.py, from a CNN TensorFlow.js trained): it
// predicts what TensorFlow.js predicted.
func TestImportKerasH5(t *testing.T) {
	check := readCheck(t, filepath.Join("testdata", "keras2_cnn_check.json"))
	m, err := interchange.ImportKerasH5(filepath.Join("testdata", "keras2_cnn.h5"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Predict(check.Input, check.InputShape[0])
	if err != nil {
		t.Fatal(err)
	}
	expectClose(t, "TensorFlow.js (through Keras 2's .h5 layout)", got, check.Output)
	// A weights-only file (VGG's published layout) is not a model file.
	_, err = interchange.ImportKerasH5(filepath.Join("..", "formats", "hdf5", "testdata", "vgg16_notop_keras2_latest.h5"))
	if err == nil || !strings.Contains(err.Error(), "no model_config attribute") {
		t.Errorf("weights-only file: %v", err)
	}
}

// TestImportKeras3 reads a Keras 3 .keras file in Keras 3's layout
// (scripts/make_keras3_model.py, from the same TensorFlow.js-trained CNN).
func TestImportKeras3(t *testing.T) {
	check := readCheck(t, filepath.Join("testdata", "keras3_cnn_check.json"))
	m, err := interchange.ImportKeras(filepath.Join("testdata", "keras3_cnn.keras"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Predict(check.Input, check.InputShape[0])
	if err != nil {
		t.Fatal(err)
	}
	expectClose(t, "TensorFlow.js (through Keras 3's .keras layout)", got, check.Output)
	if _, err := interchange.ImportKeras(filepath.Join("testdata", "keras2_cnn.h5")); err == nil || !strings.Contains(err.Error(), "not a .keras zip archive") {
		t.Errorf("an .h5 file as .keras: %v", err)
	}
}
