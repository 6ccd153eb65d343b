package graph

import "fmt"

// Evaluate computes the loss and accuracy of the model in inference mode
// on every sample of d (the last partial batch included), with the
// confusion matrix and per-class precision and recall for classifiers
// (Keras's evaluate). The model must be compiled with a loss; the optimizer
// may be nil. Evaluate is safe for concurrent use with itself and Predict:
// each call runs on compiled graphs of its own.
func (m *Model) Evaluate(d Data, batch int) (Report, error) {
	if m.loss == nil {
		return Report{}, fmt.Errorf("graph: Evaluate needs a loss: call Compile first (the optimizer may be nil)")
	}
	in, k := m.inputSizes(), m.OutputShape().Size()
	ls := m.loss.LabelSize(k)
	if batch < 1 {
		batch = 32
	}
	if err := d.check(in, ls, "evaluation"); err != nil {
		return Report{}, err
	}
	if err := checkLabels(m.loss, d, k); err != nil {
		return Report{}, err
	}
	m.dropStale()
	acc := accuracyOf(m.loss, k)
	r := Report{N: d.N}
	classify := k > 1 && (ls == 1 || ls == k)
	if classify {
		r.Confusion = newConfusion(k)
	}
	labels := make([]float32, 0, batch*ls)
	var lossSum float64
	var hits, seen int
	for lo := 0; lo < d.N; lo += batch {
		b := min(batch, d.N-lo)
		key := compiledKey{batch: b, loss: true}
		s, gen, err := m.take(key)
		if err != nil {
			return Report{}, err
		}
		loss, err := m.run(s, d, nil, lo, labels, nil)
		if err != nil {
			m.give(key, s, gen)
			return Report{}, err
		}
		lossSum += loss * float64(b)
		out := s.r.Output()
		lab := d.Y[lo*ls : (lo+b)*ls]
		h, n := acc.correct(out, lab, k)
		hits += h
		seen += n
		if classify {
			for i := 0; i < b; i++ {
				truth := int(lab[i])
				if ls == k {
					truth = argmax(lab[i*k : (i+1)*k])
				}
				r.Confusion[truth][argmax(out[i*k:(i+1)*k])]++
			}
		}
		m.give(key, s, gen)
	}
	r.Loss = lossSum / float64(d.N)
	r.Accuracy = float64(hits) / float64(max(seen, 1))
	if classify {
		r.finishConfusion()
	}
	return r, nil
}
