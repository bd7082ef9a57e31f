package testsupport

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// FreePort finds a TCP port that is free on every given loopback address.
func FreePort(t testing.TB, addrs ...string) int32 {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", addrs[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := true
		var others []net.Listener
		for _, a := range addrs[1:] {
			o, err := net.Listen("tcp", fmt.Sprintf("%s:%d", a, port))
			if err != nil {
				ok = false
				break
			}
			others = append(others, o)
		}
		_ = l.Close()
		for _, o := range others {
			_ = o.Close()
		}
		if ok {
			return int32(port)
		}
	}
	t.Fatal("no free port")
	return 0
}

// WaitListening waits until addr accepts a connection (at most 10 s).
func WaitListening(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never listened", addr)
}
