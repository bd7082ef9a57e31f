package dataplane

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// PodNetwork is a network namespace that stands in for the pod network: a veth pair joins it
// to the host, which reaches the pods' addresses through it. Only the test's own processes and
// listeners live there.
type PodNetwork struct {
	name   string // the namespace, under /var/run/netns
	hostIf string // the host's end of the veth pair
	HostIP string // the host's address on the link
	subnet string // a /24, e.g. 10.250.7.0
	node   string // the node namespace it hangs off ("": the host)
}

// CanMakeNetworks says why network namespaces cannot be made here, or "" when they can.
func CanMakeNetworks() string {
	if os.Geteuid() != 0 {
		return "network namespaces need root (run the data-plane tests as root, as CI does)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "network namespaces need iproute2's ip command"
	}
	return ""
}

// NewPodNetwork makes a namespace and its link to the host; Close removes both. Its subnet is
// the first 10.250.<n>.0/24 from n = id that no route of the host uses yet, and the namespace is
// named after this process, so that runs side by side do not meet.
func NewPodNetwork(id int) (*PodNetwork, error) {
	return newPodNetworkIn(id, "")
}

// freeSubnet is the first n from id on for which no host route uses prefix.n.0/24.
func freeSubnet(prefix string, id int) (int, error) {
	for n := id; n < id+100; n++ {
		subnet := fmt.Sprintf("%s.%d.0/24", prefix, n%256)
		if out, err := exec.Command("ip", "-4", "route", "show", subnet).Output(); err == nil && len(strings.TrimSpace(string(out))) == 0 {
			return n % 256, nil
		}
	}
	return 0, fmt.Errorf("no free subnet in %s.%d-%d.0/24", prefix, id, id+99)
}

// newPodNetworkIn makes the pod network linked to the namespace node ("": the host); the pods
// route everything through it.
func newPodNetworkIn(id int, node string) (*PodNetwork, error) {
	n, err := freeSubnet("10.250", id)
	if err != nil {
		return nil, err
	}
	p := &PodNetwork{
		name:   fmt.Sprintf("iexp-pods-%d-%d", os.Getpid()%10000, n),
		hostIf: fmt.Sprintf("iexp%d-%d", os.Getpid()%10000, n),
		subnet: fmt.Sprintf("10.250.%d", n),
		node:   node,
	}
	p.HostIP = p.subnet + ".1"
	peer := p.hostIf + "p"
	on := func(args ...string) []string { // an ip command run in the node's namespace (or the host's)
		if node == "" {
			return args
		}
		return append([]string{"-n", node}, args...)
	}
	cmds := [][]string{{"netns", "add", p.name}}
	cmds = append(cmds,
		on("link", "add", p.hostIf, "type", "veth", "peer", "name", peer),
		on("link", "set", peer, "netns", p.name),
		on("addr", "add", p.HostIP+"/24", "dev", p.hostIf),
		on("link", "set", p.hostIf, "up"),
		[]string{"-n", p.name, "link", "set", "lo", "up"},
		[]string{"-n", p.name, "link", "set", peer, "up"},
	)
	if err := ipAll(p.Close, cmds...); err != nil {
		return nil, err
	}
	return p, nil
}

// Close removes the link and the namespace.
func (p *PodNetwork) Close() {
	if p.node != "" {
		_ = exec.Command("ip", "-n", p.node, "link", "del", p.hostIf).Run()
	} else {
		_ = exec.Command("ip", "link", "del", p.hostIf).Run()
	}
	_ = exec.Command("ip", "netns", "del", p.name).Run()
}

// AddPod gives the namespace's end of the link the pod address .n of the subnet.
func (p *PodNetwork) AddPod(n int) (string, error) {
	ip := fmt.Sprintf("%s.%d", p.subnet, n)
	if out, err := exec.Command("ip", "-n", p.name, "addr", "add", ip+"/24", "dev", p.hostIf+"p").CombinedOutput(); err != nil {
		return "", fmt.Errorf("adding pod address %s: %w: %s", ip, err, out)
	}
	if p.node != "" { // replies to the node's clients go back through the node
		_ = exec.Command("ip", "-n", p.name, "route", "add", "default", "via", p.HostIP).Run()
	}
	return ip, nil
}

// Listen opens a TCP listener inside the namespace: the socket belongs to the namespace it was
// made in, so it is made from a thread that joined the namespace for that moment. Serving it
// afterwards needs no thread in the namespace.
func (p *PodNetwork) Listen(addr string) (net.Listener, error) {
	var ln net.Listener
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, namespace and all
		target, oerr := os.Open("/var/run/netns/" + p.name)
		if oerr != nil {
			err = oerr
			return
		}
		defer target.Close()
		if err = unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			return
		}
		ln, err = net.Listen("tcp", addr)
	}()
	<-done
	if err != nil {
		return nil, fmt.Errorf("listening on %s in %s: %w", addr, p.name, err)
	}
	return ln, nil
}
