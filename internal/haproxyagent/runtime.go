package haproxyagent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ServerState is a server as the running HAProxy has it.
type ServerState struct {
	Addr  netip.Addr
	Maint bool
}

// Runtime talks to HAProxy's master CLI (haproxy -W -S <socket>): commands prefixed with @1 go
// to the current worker's Runtime API, "reload" to the master.
type Runtime struct {
	Socket  string
	Timeout time.Duration
}

// exec sends one line and reads the answer until HAProxy closes the connection.
func (r Runtime) exec(ctx context.Context, line string) (string, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "unix", r.Socket)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", err
	}
	// Half-close: the master CLI answers and closes once it has read the whole request.
	if uc, ok := conn.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	out, err := io.ReadAll(conn)
	return string(out), err
}

// ServersState reads the address and administrative state of every server of the current
// worker, keyed by "backend/server".
func (r Runtime) ServersState(ctx context.Context) (map[string]ServerState, error) {
	out, err := r.exec(ctx, "@1 show servers state")
	if err != nil {
		return nil, err
	}
	return parseServersState(out)
}

// parseServersState reads `show servers state` (format version 1): be_id be_name srv_id
// srv_name srv_addr srv_op_state srv_admin_state ... An administrative state with forced (1)
// or inherited (2) maintenance is a server in maintenance; 4 alone only records that the
// configuration disabled it before the Runtime API enabled it.
func parseServersState(out string) (map[string]ServerState, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	state := map[string]ServerState{}
	first := true
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first {
			first = false
			if line != "1" {
				return nil, fmt.Errorf("unexpected answer to show servers state: %.200q", out)
			}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 7 {
			return nil, fmt.Errorf("short line in show servers state: %q", line)
		}
		addr, err := netip.ParseAddr(f[4])
		if err != nil {
			addr = netip.Addr{}
		}
		admin, err := strconv.Atoi(f[6])
		if err != nil {
			return nil, fmt.Errorf("admin state %q in %q", f[6], line)
		}
		state[f[1]+"/"+f[3]] = ServerState{Addr: addr.Unmap(), Maint: admin&0x3 != 0}
	}
	if first {
		return nil, fmt.Errorf("empty answer to show servers state")
	}
	return state, sc.Err()
}

// Apply sends the commands to the current worker, a batch per connection.
func (r Runtime) Apply(ctx context.Context, cmds []string) error {
	const batch = 64
	for len(cmds) > 0 {
		n := min(batch, len(cmds))
		parts := make([]string, n)
		for i, c := range cmds[:n] {
			parts[i] = "@1 " + c
		}
		if _, err := r.exec(ctx, strings.Join(parts, "; ")); err != nil {
			return err
		}
		cmds = cmds[n:]
	}
	return nil
}

// Reloads reads the master's reload and failed-reload counters from `show proc`.
func (r Runtime) Reloads(ctx context.Context) (reloads, failed int, err error) {
	out, err := r.exec(ctx, "show proc")
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		// <pid> master <reloads> [failed: <n>] <uptime> <version>
		if len(f) >= 5 && f[1] == "master" && f[3] == "[failed:" {
			reloads, err1 := strconv.Atoi(f[2])
			failed, err2 := strconv.Atoi(strings.TrimSuffix(f[4], "]"))
			if err1 == nil && err2 == nil {
				return reloads, failed, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("no master line in show proc: %.200q", out)
}

// Reload asks the master to reload: it starts a new worker on the files and leaves the old one
// serving its open connections until they end (or hard-stop-after).
func (r Runtime) Reload(ctx context.Context) error {
	_, err := r.exec(ctx, "reload")
	return err
}

// Commands are the Runtime API commands that take the running servers to the desired ones: an
// address first, then the state. A free slot (unspecified address) is only put into
// maintenance; its old address stays, unused. An error means the running worker lacks a server
// of the configuration: only a reload can add it.
func Commands(desired []Server, running map[string]ServerState) ([]string, error) {
	var cmds []string
	for _, s := range desired {
		key := s.Key()
		cur, ok := running[key]
		if !ok {
			return nil, fmt.Errorf("the running HAProxy has no server %s", key)
		}
		if !s.Addr.IsUnspecified() && s.Addr != cur.Addr {
			cmds = append(cmds, "set server "+key+" addr "+s.Addr.String())
		}
		switch {
		case s.Disabled && !cur.Maint:
			cmds = append(cmds, "set server "+key+" state maint")
		case !s.Disabled && cur.Maint:
			cmds = append(cmds, "set server "+key+" state ready")
		}
	}
	return cmds, nil
}
