// Package kubernetes holds Capa's Kubernetes manifests; its test decodes
// them strictly into the upstream API types (k8s.io/api), so that a typo in
// a field name or a wrong type fails here rather than in kubectl.
package kubernetes

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	kubeflowv1 "github.com/kubeflow/training-operator/pkg/apis/kubeflow.org/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// decode splits a multi-document YAML file and decodes each document
// strictly (unknown or duplicate fields are errors) into the type its
// apiVersion and kind name.
func decode(t *testing.T, path string) []any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("%s document %d: %v", path, i, err)
		}
		var obj any
		switch head.APIVersion + " " + head.Kind {
		case "batch/v1 Job":
			obj = &batchv1.Job{}
		case "v1 PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "kubeflow.org/v1 MPIJob":
			obj = &kubeflowv1.MPIJob{}
		default:
			t.Fatalf("%s document %d: unexpected %s %s", path, i, head.APIVersion, head.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s document %d (%s): %v", path, i, head.Kind, err)
		}
		out = append(out, obj)
	}
	return out
}

// checkPod checks that every volume mount names a volume of the pod and
// every claim a claim of the manifests.
func checkPod(t *testing.T, name string, spec corev1.PodSpec, claims []string) {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
		if pvc := v.PersistentVolumeClaim; pvc != nil && !slices.Contains(claims, pvc.ClaimName) {
			t.Errorf("%s: volume %s claims %q, not declared here (%v)", name, v.Name, pvc.ClaimName, claims)
		}
	}
	for _, c := range spec.Containers {
		for _, m := range c.VolumeMounts {
			if _, ok := vols[m.Name]; !ok {
				t.Errorf("%s: container %s mounts %q, which is not a volume", name, c.Name, m.Name)
			}
		}
	}
}

// TestSweepJob checks the Indexed Job of the sweep: strict decoding,
// Indexed completion, the shard count matching the completions, every
// configuration it names one of the repository's (which the Dockerfile
// copies into /experiments), and the merge Job on the same claim.
func TestSweepJob(t *testing.T) {
	objs := decode(t, "sweep-job.yaml")
	var claims []string
	var job *batchv1.Job
	for _, o := range objs {
		switch v := o.(type) {
		case *corev1.PersistentVolumeClaim:
			claims = append(claims, v.Name)
			if !slices.Contains(v.Spec.AccessModes, corev1.ReadWriteMany) {
				t.Errorf("claim %s is not ReadWriteMany: the pods share it", v.Name)
			}
		case *batchv1.Job:
			job = v
		}
	}
	if job == nil {
		t.Fatal("no Job in sweep-job.yaml")
	}
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("completionMode %v, want Indexed", s.CompletionMode)
	}
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q", s.Template.Spec.RestartPolicy)
	}
	args := s.Template.Spec.Containers[0].Args
	i := slices.Index(args, "--shard")
	if i < 0 || s.Completions == nil || args[i+1] != "auto/"+itoa(*s.Completions) {
		t.Errorf("args %v with %v completions: want --shard auto/<completions>", args, s.Completions)
	}
	var listed []string
	for _, a := range args {
		if strings.HasPrefix(a, "/experiments/") {
			listed = append(listed, strings.TrimPrefix(a, "/experiments/"))
		}
	}
	files, _ := filepath.Glob("../../experiments/*.json")
	var have []string
	for _, f := range files {
		have = append(have, filepath.Base(f))
	}
	if !slices.Equal(listed, have) {
		t.Errorf("the Job runs %v, the repository has %v", listed, have)
	}
	checkPod(t, job.Name, s.Template.Spec, claims)
	for _, o := range decode(t, "sweep-merge.yaml") {
		m := o.(*batchv1.Job)
		if got := strings.Join(m.Spec.Template.Spec.Containers[0].Args, " "); got != "experiment merge /results" {
			t.Errorf("merge args %q", got)
		}
		checkPod(t, m.Name, m.Spec.Template.Spec, claims)
	}
}

func itoa(n int32) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// TestMPIJob checks the MPIJob of data-parallel training: strict decoding
// into Kubeflow's types, a launcher running capa train --distributed
// under mpirun with as many processes as workers, and every volume mount
// backed by the results claim of sweep-job.yaml.
func TestMPIJob(t *testing.T) {
	objs := decode(t, "mpijob.yaml")
	job := objs[0].(*kubeflowv1.MPIJob)
	specs := job.Spec.MPIReplicaSpecs
	launcher, worker := specs[kubeflowv1.MPIJobReplicaTypeLauncher], specs[kubeflowv1.MPIJobReplicaTypeWorker]
	if launcher == nil || worker == nil || worker.Replicas == nil {
		t.Fatalf("replica specs %v", specs)
	}
	c := launcher.Template.Spec.Containers[0]
	args := strings.Join(append(append([]string{}, c.Command...), c.Args...), " ")
	if !strings.HasPrefix(args, "mpirun ") || !strings.Contains(args, "capa train --distributed") ||
		!strings.Contains(args, "-np "+itoa(*worker.Replicas)+" ") {
		t.Errorf("launcher runs %q with %d workers", args, *worker.Replicas)
	}
	for _, spec := range []*kubeflowv1.ReplicaSpec{launcher, worker} {
		checkPod(t, job.Name, spec.Template.Spec, []string{"capa-results"})
	}
}
