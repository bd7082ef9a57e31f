package dataplane

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
)

// Node is a network namespace standing in for a Kubernetes node: a veth pair joins it to the
// host, which reaches it at IP, and another to its pod network, between which it forwards. A
// real kube-proxy (StartKubeProxy) in it forwards the node's NodePorts to the pods.
type Node struct {
	name   string
	hostIf string
	// IP is the node's address, reached from the host; HostIP is the host's on that link.
	IP, HostIP string
}

// NewNode makes a node namespace on the first 10.251.<n>.0/24 from n = id that no host route
// uses, with a pod network (Pods) behind it; Close removes both.
func NewNode(id int) (*Node, *PodNetwork, error) {
	n, err := freeSubnet("10.251", id)
	if err != nil {
		return nil, nil, err
	}
	node := &Node{
		name:   fmt.Sprintf("iexp-node-%d-%d", os.Getpid()%10000, n),
		hostIf: fmt.Sprintf("iexn%d-%d", os.Getpid()%10000, n),
		IP:     fmt.Sprintf("10.251.%d.2", n),
		HostIP: fmt.Sprintf("10.251.%d.1", n),
	}
	peer := node.hostIf + "p"
	if err := ipAll(node.Close,
		[]string{"netns", "add", node.name},
		[]string{"link", "add", node.hostIf, "type", "veth", "peer", "name", peer},
		[]string{"link", "set", peer, "netns", node.name},
		[]string{"addr", "add", node.HostIP + "/24", "dev", node.hostIf},
		[]string{"link", "set", node.hostIf, "up"},
		[]string{"-n", node.name, "addr", "add", node.IP + "/24", "dev", peer},
		[]string{"-n", node.name, "link", "set", "lo", "up"},
		[]string{"-n", node.name, "link", "set", peer, "up"},
	); err != nil {
		return nil, nil, err
	}
	// Forwarding in the node's namespace only: the host's own setting is left alone.
	if out, err := exec.Command("ip", "netns", "exec", node.name, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward").CombinedOutput(); err != nil {
		node.Close()
		return nil, nil, fmt.Errorf("forwarding in %s: %w: %s", node.name, err, out)
	}
	pods, err := newPodNetworkIn(id, node.name)
	if err != nil {
		node.Close()
		return nil, nil, err
	}
	return node, pods, nil
}

// Close removes the node's link and namespace.
func (n *Node) Close() {
	_ = exec.Command("ip", "link", "del", n.hostIf).Run()
	_ = exec.Command("ip", "netns", "del", n.name).Run()
}

// StartKubeProxy runs bin (kube-proxy) in the node's namespace in nftables mode, as the node
// named nodeName, reading the cluster through kubeconfig. It leaves the host's conntrack
// settings alone. Stop it with the returned function.
func (n *Node) StartKubeProxy(bin, kubeconfig, nodeName, clusterCIDR string, logTo io.Writer) (stop func(), err error) {
	cmd := exec.Command("ip", "netns", "exec", n.name, bin,
		"--kubeconfig="+kubeconfig, "--proxy-mode=nftables", "--hostname-override="+nodeName,
		"--cluster-cidr="+clusterCIDR, "--nodeport-addresses="+n.IP+"/32",
		"--conntrack-max-per-core=0", "--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
		// Inside the node's namespace: these ports meet nothing of the host's.
		"--metrics-bind-address=127.0.0.1:10249", "--healthz-bind-address=127.0.0.1:10256", "-v=1")
	cmd.Stdout, cmd.Stderr = logTo, logTo
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(logTo, "kube-proxy exited: %v\n", err)
		close(exited)
	}()
	return func() { _ = cmd.Process.Kill(); <-exited }, nil
}

// KubeProxyPath is the kube-proxy that hack/build-envtest-assets.sh builds beside kube-apiserver.
func KubeProxyPath(assets string) (string, error) {
	p := assets + "/kube-proxy"
	if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("needs kube-proxy in %s: hack/build-envtest-assets.sh builds it", assets)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return "", fmt.Errorf("kube-proxy's nftables mode needs the nft command (Debian package nftables)")
	}
	return p, nil
}

// ipAll runs ip with each argument list, and undo when one fails.
func ipAll(undo func(), cmds ...[]string) error {
	for _, args := range cmds {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			undo()
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// Reach lets the node's namespace reach addr, a loopback address of the host (the API server
// listens on 127.0.0.1 only): it forwards connections to the host's address on the node's link
// to addr, and returns that address. Stop it with the returned function.
func (n *Node) Reach(addr string) (onLink string, stop func(), err error) {
	ln, err := net.Listen("tcp", n.HostIP+":0")
	if err != nil {
		return "", nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String(), func() { _ = ln.Close() }, nil
}
