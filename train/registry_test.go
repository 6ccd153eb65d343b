package train

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

// TestRegistriesRoundTrip checks that every registered optimizer, schedule
// and callback goes to JSON and back to the same values, through its
// Keras class name.
func TestRegistriesRoundTrip(t *testing.T) {
	for _, class := range graph.OptimizerClasses() {
		o, err := graph.OptimizerSpec{Class: class, Config: json.RawMessage(`{"learning_rate": 0.05}`)}.Build()
		if err != nil {
			t.Fatalf("%s: %v", class, err)
		}
		spec, err := graph.SpecOfOptimizer(o)
		if err != nil {
			t.Fatal(err)
		}
		o2, err := spec.Build()
		if err != nil || !reflect.DeepEqual(o, o2) || o2.LR() != 0.05 {
			t.Errorf("%s: %s rebuilt as %#v, %v", class, spec.Config, o2, err)
		}
	}
	configs := map[string]string{
		"StepDecay": `{"factor": 0.5, "every": 2}`, "ExponentialDecay": `{"decay_steps": 10, "decay_rate": 0.9}`,
		"CosineDecay": `{"decay_steps": 10}`,
	}
	for _, class := range graph.ScheduleClasses() {
		s, err := graph.ScheduleFromConfig(class, []byte(configs[class]))
		if err != nil {
			t.Fatalf("%s: %v", class, err)
		}
		spec, err := graph.SpecOfSchedule(s)
		if err != nil || spec.Class != class {
			t.Fatalf("%s: spec %+v, %v", class, spec, err)
		}
		s2, err := graph.ScheduleFromConfig(spec.Class, spec.Config)
		if err != nil || !reflect.DeepEqual(s, s2) {
			t.Errorf("%s: %s rebuilt as %#v, %v", class, spec.Config, s2, err)
		}
	}
	cbConfigs := map[string]string{"ModelCheckpoint": `{"filepath": "m.capa"}`, "CSVLogger": `{"filename": "log.csv"}`, "JSONLogger": `{"filename": "log.jsonl"}`}
	for _, class := range graph.CallbackClasses() {
		c, err := graph.CallbackFromConfig(class, []byte(cbConfigs[class]))
		if err != nil {
			t.Fatalf("%s: %v", class, err)
		}
		spec, err := graph.SpecOfCallback(c)
		if err != nil || spec.Class != class {
			t.Fatalf("%s: spec %+v, %v", class, spec, err)
		}
		c2, err := graph.CallbackFromConfig(spec.Class, spec.Config)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Errorf("%s: %s rebuilt as %#v, %v", class, spec.Config, c2, err)
		}
	}
	if _, err := graph.CallbackFromConfig("EarlyStoping", nil); err == nil || !strings.Contains(err.Error(), "EarlyStopping") {
		t.Errorf("unknown callback: %v, want the known ones listed", err)
	}
}

// TestZeroIsAValue checks that an explicit 0 in a config is 0, an absent
// key Keras's default, and an illegal value an error naming the field.
func TestZeroIsAValue(t *testing.T) {
	o, err := graph.OptimizerSpec{Class: "Adam", Config: json.RawMessage(`{"beta_1": 0}`)}.Build()
	if err != nil {
		t.Fatal(err)
	}
	if a := o.(*Adam).eff(); a.Beta1 != 0 || a.Beta2 != 0.999 || a.Epsilon != 1e-7 || a.LearningRate != 1e-3 {
		t.Errorf("beta_1 0 read as %+v", a)
	}
	// A struct literal's zero fields are the defaults; NewAdam's are values.
	if a := (&Adam{}).eff(); a.Beta1 != 0.9 {
		t.Errorf("Adam{} runs with beta_1 %v, want 0.9", a.Beta1)
	}
	n := NewAdam()
	n.Beta1 = 0
	if n.eff().Beta1 != 0 {
		t.Error("NewAdam with Beta1 = 0 does not run with 0")
	}
	b, _ := json.Marshal(&Adam{LearningRate: 0.01})
	if string(b) != `{"learning_rate":0.01,"beta_1":0.9,"beta_2":0.999,"epsilon":1e-7,"weight_decay":0}` {
		t.Errorf("Adam config %s, want every value explicit", b)
	}
	for cfg, field := range map[string]string{
		`{"beta_1": 1}`: "beta_1", `{"beta_2": -0.1}`: "beta_2", `{"epsilon": -1}`: "epsilon",
		`{"learning_rate": 0}`: "learning_rate", `{"learning_rate": -0.1}`: "learning_rate",
	} {
		if _, err := (graph.OptimizerSpec{Class: "Adam", Config: json.RawMessage(cfg)}).Build(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Adam %s: %v, want an error naming %s", cfg, err, field)
		}
	}
	c, err := graph.CallbackFromConfig("ReduceLROnPlateau", []byte(`{"patience": 0, "min_delta": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.(*ReduceLROnPlateau).eff(); r.Patience != 0 || r.MinDelta != 0 || r.Factor != 0.1 {
		t.Errorf("patience 0, min_delta 0 read as %+v", r)
	}
	if r := (&ReduceLROnPlateau{}).eff(); r.Patience != 10 || r.MinDelta != 1e-4 {
		t.Errorf("a zero ReduceLROnPlateau literal runs with %+v, want Keras's defaults", r)
	}
	if _, err := graph.CallbackFromConfig("ReduceLROnPlateau", []byte(`{"factor": 1.5}`)); err == nil || !strings.Contains(err.Error(), "factor") {
		t.Errorf("factor 1.5: %v", err)
	}
	if _, err := graph.CallbackFromConfig("EarlyStopping", []byte(`{"patience": -1}`)); err == nil || !strings.Contains(err.Error(), "patience") {
		t.Errorf("patience -1: %v", err)
	}
}

// TestRegisterUserTypes checks that a user's own activation and schedule
// register like Capa's, and that registering a name twice panics.
func TestRegisterUserTypes(t *testing.T) {
	graph.RegisterSchedule("HalfEveryEpoch", func() graph.Schedule { return &StepDecay{Factor: 0.5, Every: 1} })
	s, err := graph.ScheduleFromConfig("HalfEveryEpoch", nil)
	if err != nil || s.LR(0, 2, 1) != 0.25 {
		t.Errorf("user schedule: %v, %v", s, err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "StepDecay registered twice") {
			t.Errorf("duplicate registration: %v", r)
		}
	}()
	graph.RegisterSchedule("StepDecay", func() graph.Schedule { return &StepDecay{} })
}
