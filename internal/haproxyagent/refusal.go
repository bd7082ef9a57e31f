package haproxyagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// Reasons of the problems the agent reports.
const (
	// ProblemBindRefused: a frontend's bind fails on this host (another process holds the
	// port, or the address is not here); the frontend is left out, every other one loads.
	ProblemBindRefused = "HAProxyBindRefused"
	// ProblemInvalid: haproxy -c refused the configuration.
	ProblemInvalid = "HAProxyConfigInvalid"
	// ProblemReloadFailed: HAProxy could not start a configuration haproxy -c accepted.
	ProblemReloadFailed = "HAProxyReloadFailed"
)

// Problem is something the agent could not do, with the binds (so the exposures and tenants)
// it concerns.
type Problem struct {
	Reason  string
	Message string
	Binds   []Bind
}

// Frontends are the frontends the problem names.
func (p Problem) Frontends() []string {
	var out []string
	for _, b := range p.Binds {
		if !slices.Contains(out, b.Frontend) {
			out = append(out, b.Frontend)
		}
	}
	return out
}

// Reporter takes each problem once, to say it where the people it concerns look (the
// exposure's and the tenant's Events).
type Reporter interface {
	Report(ctx context.Context, p Problem)
}

// shapeOf is a checksum of what a reload would change: every section with the servers'
// addresses and states taken out, and the certificates' content.
func shapeOf(c Config, certSum string) string {
	h := sha256.New()
	for _, s := range c.Order {
		h.Write([]byte(s))
		h.Write([]byte{0})
		h.Write([]byte(c.Sections[s]))
		h.Write([]byte{0})
	}
	h.Write([]byte(certSum))
	return hex.EncodeToString(h.Sum(nil))
}

// changedBinds are the binds of the frontends that desired adds or changes against live: what
// a failed reload is attributed to.
func changedBinds(live, desired Config, files []File) []Bind {
	changed := map[string]bool{}
	for _, h := range desired.Order {
		kind, name, _ := strings.Cut(h, " ")
		if (kind == "frontend" || kind == "listen") && live.Sections[h] != desired.Sections[h] {
			changed[name] = true
		}
	}
	var out []Bind
	for _, b := range Binds(files) {
		if changed[b.Frontend] {
			out = append(out, b)
		}
	}
	return out
}

// withServers returns live with the server lines of the named backends taken from desired:
// the configuration that runs, as the Runtime API has changed it.
func withServers(live, desired []File, backends map[string]bool) []File {
	lines := map[string]string{}
	eachServer(desired, func(key, line string) string { lines[key] = line; return line })
	out := make([]File, 0, len(live))
	for _, f := range live {
		out = append(out, File{Name: f.Name, Data: eachServer([]File{f}, func(key, line string) string {
			backend, _, _ := strings.Cut(key, "/")
			if d, ok := lines[key]; ok && backends[backend] {
				return d
			}
			return line
		})[0].Data})
	}
	return out
}

// eachServer calls fn with every server line of the backends (key "backend/server", the line
// with its end of line) and returns the files with the lines fn gave back.
func eachServer(files []File, fn func(key, line string) string) []File {
	out := make([]File, 0, len(files))
	for _, f := range files {
		var b strings.Builder
		b.Grow(len(f.Data))
		backend := ""
		for line := range strings.Lines(f.Data) {
			trimmed := strings.TrimSpace(line)
			switch {
			case trimmed == "" || trimmed[0] == '#':
			case line[0] != ' ' && line[0] != '\t':
				backend, _ = strings.CutPrefix(strings.Join(strings.Fields(trimmed), " "), "backend ")
				if !strings.HasPrefix(trimmed, "backend") {
					backend = ""
				}
			case backend != "":
				if fields := strings.Fields(trimmed); len(fields) >= 3 && fields[0] == "server" {
					line = fn(backend+"/"+fields[1], line)
				}
			}
			b.WriteString(line)
		}
		out = append(out, File{Name: f.Name, Data: b.String()})
	}
	return out
}

// wheres are the binds' places, for a log line.
func wheres(binds []Bind) []string {
	out := make([]string, len(binds))
	for i, b := range binds {
		out[i] = b.Where() + " " + b.Owner
	}
	return out
}
