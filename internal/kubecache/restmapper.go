package kubecache

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// NewRESTMapper is the manager's REST mapper: controller-runtime's dynamic one, with the
// mappings it found remembered. The dynamic mapper answers every lookup by asking the mapper
// of each API group it knows in turn; each that does not know the kind makes an error, and the
// client looks a kind up for every request. Only found mappings are kept,
// and for a minute: a kind not served yet is asked again, so a CRD installed later is found as
// before, and a CRD that changes its versions or scope is followed within a minute.
func NewRESTMapper(cfg *rest.Config, httpClient *http.Client) (meta.RESTMapper, error) {
	m, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	return &rememberingMapper{RESTMapper: m}, nil
}

// mappingTTL is how long a found mapping is used before it is looked up again.
const mappingTTL = time.Minute

type mappingKey struct {
	group, kind, versions string
}

type foundMapping struct {
	mapping *meta.RESTMapping
	at      time.Time
}

// rememberingMapper remembers the answers of RESTMapping; every other question goes to the
// mapper it wraps.
type rememberingMapper struct {
	meta.RESTMapper
	mu    sync.RWMutex
	found map[mappingKey]foundMapping
	now   func() time.Time // time.Now; tests move it
}

// RESTMapping returns the remembered mapping of gk in the first of versions the server
// serves, looking it up the first time. Callers only read the mapping, so it is shared.
func (m *rememberingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	key := mappingKey{group: gk.Group, kind: gk.Kind, versions: strings.Join(versions, ",")}
	now := m.clock()
	m.mu.RLock()
	f, ok := m.found[key]
	m.mu.RUnlock()
	if ok && now.Sub(f.at) < mappingTTL {
		return f.mapping, nil
	}
	rm, err := m.RESTMapper.RESTMapping(gk, versions...)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.found == nil {
		m.found = map[mappingKey]foundMapping{}
	}
	m.found[key] = foundMapping{mapping: rm, at: now}
	m.mu.Unlock()
	return rm, nil
}

func (m *rememberingMapper) clock() time.Time {
	if m.now != nil {
		return m.now()
	}
	return time.Now()
}
