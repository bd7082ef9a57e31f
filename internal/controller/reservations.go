package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// reservationTTL is how long a port handed out by this process stays reserved for its exposure:
// long enough for the Service holding it to reach the cache.
const reservationTTL = 30 * time.Second

// portReservations remembers the node ports this process has just handed out. Workers of one
// tenant read the same cache; without this, two of them pick the same lowest free port before
// either Service is in the cache, and the API server refuses the second.
type portReservations struct {
	mu     sync.Mutex
	byPort map[int32]reservation
}

type reservation struct {
	owner types.NamespacedName
	until time.Time
}

// assign picks ports for owner among those of block that are neither used nor reserved by
// another exposure, and reserves them for owner.
func (p *portReservations) assign(owner types.NamespacedName, block allocator.Range, req allocator.PortRequest, used map[int32]bool) (map[string]int32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byPort == nil {
		p.byPort = map[int32]reservation{}
	}
	now := time.Now()
	taken := make(map[int32]bool, len(used))
	for port := range used {
		taken[port] = true
	}
	for port, r := range p.byPort {
		switch {
		case now.After(r.until):
			delete(p.byPort, port)
		case r.owner == owner:
			delete(p.byPort, port) // re-reserved below if still chosen
		case used[port]:
			// The cache shows a Service holding it: from now on the cache is the record, and a
			// delete of that Service frees the port at once.
			delete(p.byPort, port)
		case block.Contains(port):
			taken[port] = true
		}
	}
	ports, err := allocator.AssignPorts(block, req, taken)
	if err != nil {
		return nil, err
	}
	for _, port := range ports {
		p.byPort[port] = reservation{owner: owner, until: now.Add(reservationTTL)}
	}
	return ports, nil
}
