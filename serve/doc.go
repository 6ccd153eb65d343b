// Package serve is Capa's inference server: saved models behind the HTTP
// protocols existing clients and platforms speak, TensorFlow Serving's
// REST API and KServe's Open Inference Protocol v2, plus an image
// endpoint, with dynamic batching, versions reloaded without dropping a
// request, bounded queues, limits on every input, structured logs and
// Prometheus metrics. `capa serve` runs it; embed it with New, Add and
// Handler:
//
//	s := serve.New(serve.Options{})
//	if err := s.Add("fashion", "fashion.safetensors"); err != nil { ... }
//	srv := serve.NewHTTPServer("127.0.0.1:8501", s.Handler())
//	go srv.ListenAndServe()
//	...
//	srv.Shutdown(ctx) // finishes the requests in flight
//	s.Close()
//
// The files: server.go (Server, Options, reloads), batch.go (the
// batcher), http.go (routing, errors, the request flow), tfserving.go and
// kserve.go (the protocols), tensor.go (the JSON tensor reader), model.go
// (versions and their sources), metrics.go.
package serve
