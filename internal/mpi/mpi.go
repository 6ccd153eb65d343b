// Package mpi is a thin binding of the MPI calls data-parallel training
// needs (init, rank and size, in-place all-reduce sums, broadcast, abort)
// to Open MPI's libmpi.so.40, loaded at run time with purego as Capa loads
// OpenBLAS: the capa binary stays free of cgo and runs without MPI
// installed; only a run under mpirun opens the library.
//
// Why a binding of its own: the Go MPI modules found (e.g. the archived
// github.com/sbromberger/gompi) need cgo and a C toolchain at build time,
// and none is maintained. Open MPI's ABI is its own (handles are pointers
// to exported globals such as ompi_mpi_comm_world); MPICH's differs, and is
// not supported.
//
// All calls are serialized (MPI_THREAD_SERIALIZED): a World may be used
// from any goroutine.
package mpi

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Library is the Open MPI library opened.
const Library = "libmpi.so.40"

// InJob reports whether the process was started by Open MPI's mpirun.
func InJob() bool { return os.Getenv("OMPI_COMM_WORLD_SIZE") != "" }

// World is MPI_COMM_WORLD of the running job.
type World struct {
	mu         sync.Mutex
	rank, size int

	comm, float, double, sum, max uintptr

	allreduce func(send uintptr, recv unsafe.Pointer, count int32, dtype, op, comm uintptr) int32
	bcast     func(buf unsafe.Pointer, count int32, dtype uintptr, root int32, comm uintptr) int32
	abort     func(comm uintptr, code int32) int32
	finalize  func() int32
}

var (
	once    sync.Once
	world   *World
	initErr error
)

// Init initializes MPI (once per process) and returns the world.
func Init() (*World, error) {
	once.Do(func() { world, initErr = open() })
	return world, initErr
}

func open() (*World, error) {
	h, err := purego.Dlopen(Library, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("mpi: %s (Open MPI; Debian: apt-get install openmpi-bin libopenmpi3): %w", Library, err)
	}
	sym := func(name string) (uintptr, error) {
		p, err := purego.Dlsym(h, name)
		if err != nil || p == 0 {
			return 0, fmt.Errorf("mpi: %s has no %s: not Open MPI? %v", Library, name, err)
		}
		return p, nil
	}
	w := &World{}
	for _, s := range []struct {
		dst  *uintptr
		name string
	}{
		{&w.comm, "ompi_mpi_comm_world"}, {&w.float, "ompi_mpi_float"}, {&w.double, "ompi_mpi_double"},
		{&w.sum, "ompi_mpi_op_sum"}, {&w.max, "ompi_mpi_op_max"},
	} {
		if *s.dst, err = sym(s.name); err != nil {
			return nil, err
		}
	}
	var initThread func(argc, argv unsafe.Pointer, required int32, provided *int32) int32
	var commRank, commSize func(comm uintptr, v *int32) int32
	for _, f := range []struct {
		fptr any
		name string
	}{
		{&initThread, "MPI_Init_thread"}, {&commRank, "MPI_Comm_rank"}, {&commSize, "MPI_Comm_size"},
		{&w.allreduce, "MPI_Allreduce"}, {&w.bcast, "MPI_Bcast"}, {&w.abort, "MPI_Abort"}, {&w.finalize, "MPI_Finalize"},
	} {
		p, err := sym(f.name)
		if err != nil {
			return nil, err
		}
		purego.RegisterFunc(f.fptr, p)
	}
	const serialized = 2 // MPI_THREAD_SERIALIZED
	var provided int32
	if rc := initThread(nil, nil, serialized, &provided); rc != 0 {
		return nil, fmt.Errorf("mpi: MPI_Init_thread failed (%d)", rc)
	}
	if provided < serialized {
		return nil, fmt.Errorf("mpi: the library provides thread level %d, Capa needs MPI_THREAD_SERIALIZED", provided)
	}
	var r, s int32
	if commRank(w.comm, &r) != 0 || commSize(w.comm, &s) != 0 {
		return nil, errors.New("mpi: MPI_Comm_rank or MPI_Comm_size failed")
	}
	w.rank, w.size = int(r), int(s)
	return w, nil
}

// Rank is this process's rank, 0 to Size()-1.
func (w *World) Rank() int { return w.rank }

// Size is the number of processes in the job.
func (w *World) Size() int { return w.size }

// inPlace is MPI_IN_PLACE, ((void *) 1).
const inPlace uintptr = 1

// maxCount bounds one call's elements (MPI counts are int32).
const maxCount = 1 << 30

// AllreduceSum replaces buf, on every rank, by its element-wise sum over
// the ranks.
func (w *World) AllreduceSum(buf []float32) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if rc := w.allreduce(inPlace, unsafe.Pointer(&buf[0]), int32(n), w.float, w.sum, w.comm); rc != 0 {
			return fmt.Errorf("mpi: MPI_Allreduce failed (%d)", rc)
		}
		buf = buf[n:]
	}
	return nil
}

// AllreduceMax64 replaces buf, on every rank, by its element-wise maximum
// over the ranks.
func (w *World) AllreduceMax64(buf []float64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(buf) == 0 {
		return nil
	}
	if rc := w.allreduce(inPlace, unsafe.Pointer(&buf[0]), int32(len(buf)), w.double, w.max, w.comm); rc != 0 {
		return fmt.Errorf("mpi: MPI_Allreduce failed (%d)", rc)
	}
	return nil
}

// Broadcast copies rank 0's buf into every rank's.
func (w *World) Broadcast(buf []float32) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if rc := w.bcast(unsafe.Pointer(&buf[0]), int32(n), w.float, 0, w.comm); rc != 0 {
			return fmt.Errorf("mpi: MPI_Bcast failed (%d)", rc)
		}
		buf = buf[n:]
	}
	return nil
}

// Abort ends every process of the job with code.
func (w *World) Abort(code int) {
	w.abort(w.comm, int32(code))
}

// Finalize ends MPI in this process.
func (w *World) Finalize() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rc := w.finalize(); rc != 0 {
		return fmt.Errorf("mpi: MPI_Finalize failed (%d)", rc)
	}
	return nil
}
