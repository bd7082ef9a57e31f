package main

import (
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
)

// version is set at build time: go build -ldflags "-X main.version=v0.3.0" (the Dockerfile and
// the chart's appVersion do). Without it, the module version of the build is used.
var version = ""

// buildInfo is the version, the VCS commit (with "-dirty" for a modified tree) and the Go
// version of the running binary.
func buildInfo() (ver, commit, goVersion string) {
	ver, commit, goVersion = version, "unknown", runtime.Version()
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return orDevel(ver), commit, goVersion
	}
	if ver == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		ver = info.Main.Version
	}
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified {
		commit += "-dirty"
	}
	return orDevel(ver), commit, goVersion
}

func orDevel(v string) string {
	if v == "" {
		return "devel"
	}
	return v
}

func versionLine() string {
	v, c, g := buildInfo()
	return fmt.Sprintf("inference-exposure-operator %s (commit %s, %s)", v, c, g)
}

// effectiveSettings lists every flag with the value in force, for the startup log line.
func effectiveSettings(fs *flag.FlagSet) []string {
	var out []string
	fs.VisitAll(func(f *flag.Flag) {
		out = append(out, f.Name+"="+f.Value.String())
	})
	sort.Strings(out)
	return out
}
