package train_test

import "testing"

func BenchmarkPredictBatch4(b *testing.B)  { benchPredict(b, 4) }
func BenchmarkPredictBatch16(b *testing.B) { benchPredict(b, 16) }
func BenchmarkPredictBatch64(b *testing.B) { benchPredict(b, 64) }
