package presets

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestNamesAndOrder(t *testing.T) {
	if got, want := ModelNames(), []string{"modelnet", "modelnet_8k", "scan_hardest", "scan_objbg", "scan_objonly", "synth"}; !slices.Equal(got, want) {
		t.Errorf("ModelNames = %v, want %v", got, want)
	}
	if got, want := MethodNames(), []string{"full", "linear", "dapt", "dapt-x"}; !slices.Equal(got, want) {
		t.Errorf("MethodNames = %v, want %v", got, want)
	}
}

func TestLookupErrors(t *testing.T) {
	_, err := LookupModel("nope")
	if err == nil || err.Error() != `unknown preset "nope" (have [modelnet modelnet_8k scan_hardest scan_objbg scan_objonly synth])` {
		t.Errorf("LookupModel: %v", err)
	}
	_, err = LookupMethod("lora")
	if err == nil || err.Error() != `unknown method "lora" (have full, linear, dapt, dapt-x)` {
		t.Errorf("LookupMethod: %v", err)
	}
	if _, err := LookupSchedule("nope"); err == nil {
		t.Error("LookupSchedule accepted an unknown name")
	}
	if _, err := LookupDataKind("nope"); err == nil {
		t.Error("LookupDataKind accepted an unknown name")
	}
}

// Every name a table refers to is registered, and every model preset's DAPT
// head reads something.
func TestReferencesResolve(t *testing.T) {
	for _, m := range Models() {
		if m.Schedule != "" {
			if _, err := LookupSchedule(m.Schedule); err != nil {
				t.Errorf("preset %s: %v", m.Name, err)
			}
		}
		if m.DAPT.Head.Count() == 0 || m.DAPT.Rank <= 0 {
			t.Errorf("preset %s: DAPT %+v", m.Name, m.DAPT)
		}
	}
	for _, d := range DataKinds() {
		if _, err := LookupSchedule(d.Schedule); err != nil {
			t.Errorf("data kind %s: %v", d.Name, err)
		}
		if _, err := LookupModel(d.PresetFor(d.Variant)); err != nil {
			t.Errorf("data kind %s: %v", d.Name, err)
		}
		for _, v := range d.Variants {
			if _, err := LookupModel(v.Preset); err != nil {
				t.Errorf("data kind %s variant %s: %v", d.Name, v.Name, err)
			}
		}
	}
}

func TestPresetFor(t *testing.T) {
	d, err := LookupDataKind("scanobjectnn")
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]string{"objbg": "scan_objbg", "objonly": "scan_objonly", "hardest": "scan_hardest",
		"pb_t50_rs": "scan_hardest", "other": "scan_objbg", "": "scan_objbg"} {
		if got := d.PresetFor(v); got != want {
			t.Errorf("scanobjectnn variant %q: preset %s, want %s", v, got, want)
		}
	}
}

func TestRegister(t *testing.T) {
	tb := newTable("preset", func(m Model) string { return m.Name }, Model{Name: "a"})
	if err := tb.register(Model{Name: "a"}); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("registering a name twice: %v", err)
	}
	if err := tb.register(Model{}); err == nil {
		t.Error("registered an entry without a name")
	}
	if err := tb.register(Model{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if got := tb.names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("names %v", got)
	}
	if err := RegisterModel(Model{Name: "x", Schedule: "nope"}); err == nil {
		t.Error("RegisterModel accepted an unknown schedule")
	}
	if err := RegisterModel(Model{Name: "synth"}); err == nil {
		t.Error("RegisterModel replaced a built-in preset")
	}
}

// A caller's copy cannot change the registry.
func TestCopies(t *testing.T) {
	m, _ := LookupMethod("dapt-x")
	m.SMoA.Rank = 1
	Methods()[3].SMoA.Rank = 2
	if m2, _ := LookupMethod("dapt-x"); m2.SMoA.Rank != 32 {
		t.Errorf("the registry's SMoA rank became %d", m2.SMoA.Rank)
	}
	d, _ := LookupDataKind("scanobjectnn")
	d.Variants[0].Preset = "x"
	DataKinds()[1].Variants[0].Preset = "y"
	if d2, _ := LookupDataKind("scanobjectnn"); d2.Variants[0].Preset != "scan_objbg" {
		t.Errorf("the registry's variant became %+v", d2.Variants[0])
	}
}

func TestPrint(t *testing.T) {
	var b bytes.Buffer
	if err := Print(&b); err != nil {
		t.Fatal(err)
	}
	for _, n := range append(ModelNames(), MethodNames()...) {
		if !strings.Contains(b.String(), "  "+n+" ") {
			t.Errorf("Print lacks %s:\n%s", n, b.String())
		}
	}
	b.Reset()
	if err := PrintJSON(&b); err != nil {
		t.Fatal(err)
	}
	var r Registry
	if err := json.Unmarshal(b.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Models) != len(ModelNames()) || len(r.Methods) != 4 || len(r.Schedules) != 4 || len(r.DataKinds) != 4 {
		t.Errorf("JSON has %d models, %d methods, %d schedules, %d data kinds", len(r.Models), len(r.Methods), len(r.Schedules), len(r.DataKinds))
	}
	if r.Methods[3].SMoA == nil || r.Methods[3].SMoA.Alpha != 0.01 || r.Schedules[1].Train.Epochs != 12 {
		t.Errorf("JSON: %+v %+v", r.Methods[3], r.Schedules[1])
	}
}
