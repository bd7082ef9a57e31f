// Package argocd tests the Argo CD health checks in config/argocd by running their Lua with
// gopher-lua over status fixtures, in the layout Argo CD's resource customizations use.
package argocd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"

	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

var kinds = []string{"InferenceExposure", "InferenceTenant"}

func dir(kind string) string {
	return filepath.Join(testenv.RepoRoot(), "config", "argocd", "resource_customizations", "exposure.inference.dev", kind)
}

// toLua turns decoded JSON into Lua values the way Argo CD hands objects to health scripts.
func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, val := range x {
			t.RawSetString(k, toLua(L, val))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, val := range x {
			t.Append(toLua(L, val))
		}
		return t
	case string:
		return lua.LString(x)
	case float64:
		return lua.LNumber(x)
	case bool:
		return lua.LBool(x)
	default:
		return lua.LNil
	}
}

func health(t *testing.T, script string, fixture []byte) (status, message string) {
	t.Helper()
	j, err := yaml.YAMLToJSON(fixture)
	if err != nil {
		t.Fatal(err)
	}
	var obj any
	if err := json.Unmarshal(j, &obj); err != nil {
		t.Fatal(err)
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("lua: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("script returned %v, want a table", L.Get(-1))
	}
	return hs.RawGetString("status").String(), hs.RawGetString("message").String()
}

type healthTests struct {
	Tests []struct {
		HealthStatus struct{ Status, Message string } `json:"healthStatus"`
		InputPath    string                           `json:"inputPath"`
	} `json:"tests"`
}

// TestHealth runs every case of each kind's health_test.yaml (Argo CD's own test format).
func TestHealth(t *testing.T) {
	for _, kind := range kinds {
		script, err := os.ReadFile(filepath.Join(dir(kind), "health.lua"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir(kind), "health_test.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var cases healthTests
		if err := yaml.UnmarshalStrict(raw, &cases); err != nil {
			t.Fatal(err)
		}
		if len(cases.Tests) == 0 {
			t.Fatalf("%s: no cases", kind)
		}
		for _, tc := range cases.Tests {
			t.Run(kind+"/"+tc.InputPath, func(t *testing.T) {
				fixture, err := os.ReadFile(filepath.Join(dir(kind), tc.InputPath))
				if err != nil {
					t.Fatal(err)
				}
				status, msg := health(t, string(script), fixture)
				if status != tc.HealthStatus.Status || msg != tc.HealthStatus.Message {
					t.Errorf("got %s %q, want %s %q", status, msg, tc.HealthStatus.Status, tc.HealthStatus.Message)
				}
			})
		}
	}
}

// TestSnippetMatches: the argocd-cm snippet carries the same Lua as the customizations.
func TestSnippetMatches(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "argocd", "argocd-cm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	for _, kind := range kinds {
		script, err := os.ReadFile(filepath.Join(dir(kind), "health.lua"))
		if err != nil {
			t.Fatal(err)
		}
		got := cm.Data["resource.customizations.health.exposure.inference.dev_"+kind]
		if strings.TrimSpace(got) != strings.TrimSpace(string(script)) {
			t.Errorf("argocd-cm.yaml's %s health differs from %s/health.lua", kind, dir(kind))
		}
	}
}
