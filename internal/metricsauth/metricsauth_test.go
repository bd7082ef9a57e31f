package metricsauth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	authnclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authzclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"

	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

type countingTokens struct {
	authnclient.TokenReviewInterface
	calls atomic.Int32
}

func (c *countingTokens) Create(ctx context.Context, r *authenticationv1.TokenReview, o metav1.CreateOptions) (*authenticationv1.TokenReview, error) {
	c.calls.Add(1)
	return c.TokenReviewInterface.Create(ctx, r, o)
}

type countingAccess struct {
	authzclient.SubjectAccessReviewInterface
	calls atomic.Int32
}

func (c *countingAccess) Create(ctx context.Context, r *authorizationv1.SubjectAccessReview, o metav1.CreateOptions) (*authorizationv1.SubjectAccessReview, error) {
	c.calls.Add(1)
	return c.SubjectAccessReviewInterface.Create(ctx, r, o)
}

// TestReviewAgainstAPIServer asks a real API server (RBAC, service account tokens): only a
// service account bound to a role that may get /metrics is served, and answers are cached.
func TestReviewAgainstAPIServer(t *testing.T) {
	env, _ := testenv.StartForTest(t, false, nil)
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "default"
	token := func(name string) string {
		t.Helper()
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	reader, stranger := token("scraper"), token("stranger")
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "scraper-metrics"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "scraper", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	tokens := &countingTokens{TokenReviewInterface: cs.AuthenticationV1().TokenReviews()}
	access := &countingAccess{SubjectAccessReviewInterface: cs.AuthorizationV1().SubjectAccessReviews()}
	r := NewReviewer(tokens, access)
	srv := httptest.NewServer(r.Handler(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "metrics")
	})))
	defer srv.Close()
	do := func(method, path, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	for _, tc := range []struct {
		name, method, path, auth string
		want                     int
	}{
		{"no header", http.MethodGet, "/metrics", "", http.StatusUnauthorized},
		{"not bearer", http.MethodGet, "/metrics", "Basic " + reader, http.StatusUnauthorized},
		{"empty bearer", http.MethodGet, "/metrics", "Bearer   ", http.StatusUnauthorized},
		{"forged token", http.MethodGet, "/metrics", "Bearer " + reader[:len(reader)-4] + "AAAA", http.StatusUnauthorized},
		{"nonsense token", http.MethodGet, "/metrics", "Bearer not-a-token", http.StatusUnauthorized},
		{"no role", http.MethodGet, "/metrics", "Bearer " + stranger, http.StatusForbidden},
		{"reader", http.MethodGet, "/metrics", "Bearer " + reader, http.StatusOK},
		{"reader, lower-case scheme", http.MethodGet, "/metrics", "bearer " + reader, http.StatusOK},
		{"reader, other verb", http.MethodPost, "/metrics", "Bearer " + reader, http.StatusForbidden},
		{"reader, other path", http.MethodGet, "/debug", "Bearer " + reader, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(tc.method, tc.path, tc.auth)
			if code != tc.want {
				t.Fatalf("%s %s: %d %q, want %d", tc.method, tc.path, code, body, tc.want)
			}
			if (code == http.StatusOK) != (body == "metrics") {
				t.Fatalf("body %q with status %d", body, code)
			}
		})
	}

	// The filter the metrics server is given asks the same questions through its own clients.
	hc, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	filter, err := Filter(env.Config, hc)
	if err != nil {
		t.Fatal(err)
	}
	guarded, err := filter(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metrics") }))
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]int{reader: http.StatusOK, stranger: http.StatusForbidden, "nonsense": http.StatusUnauthorized} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		guarded.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("through Filter: %d, want %d", rec.Code, want)
		}
	}

	// A scraper every few seconds costs no more reviews while the answers live.
	tn, an := tokens.calls.Load(), access.calls.Load()
	for range 5 {
		if code, _ := do(http.MethodGet, "/metrics", "Bearer "+reader); code != http.StatusOK {
			t.Fatalf("cached reader: %d", code)
		}
	}
	if tokens.calls.Load() != tn || access.calls.Load() != an {
		t.Fatalf("reviews while cached: %d token, %d access", tokens.calls.Load()-tn, access.calls.Load()-an)
	}
	// Past their TTL the answers are asked again: a revoked binding takes effect.
	if err := cs.RbacV1().ClusterRoleBindings().Delete(ctx, "scraper-metrics", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The API server's RBAC view catches up with the deletion soon after; every attempt moves
	// the clock past the TTL of the answer before it.
	var shift atomic.Int64
	r.now = func() time.Time { return time.Now().Add(time.Duration(shift.Load()) * (AllowTTL + time.Second)) }
	deadline := time.Now().Add(30 * time.Second)
	for {
		shift.Add(1)
		code, _ := do(http.MethodGet, "/metrics", "Bearer "+reader)
		if code == http.StatusForbidden {
			break
		}
		if code != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("after the binding was removed and the cache expired: %d, want 403", code)
		}
		time.Sleep(50 * time.Millisecond) // polling the API server's view, not waiting for time to pass
	}
	if tokens.calls.Load() == tn || access.calls.Load() == an {
		t.Fatalf("expired answers not asked again: %d token, %d access reviews", tokens.calls.Load()-tn, access.calls.Load()-an)
	}
}

// TestAPIServerDown: when the reviews cannot be made the caller gets a 500, not the metrics.
func TestAPIServerDown(t *testing.T) {
	cfgSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer cfgSrv.Close()
	cs, err := kubernetes.NewForConfig(restConfig(cfgSrv.URL))
	if err != nil {
		t.Fatal(err)
	}
	r := NewReviewer(cs.AuthenticationV1().TokenReviews(), cs.AuthorizationV1().SubjectAccessReviews())
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer x")
	r.Handler(logr.Discard(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("served while the API server is down")
	})).ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
}

func TestRememberIsBounded(t *testing.T) {
	now := time.Now()
	m := map[int]decisionEntry{}
	for i := range 3 * maxCacheEntries {
		m = remember(m, i, decisionEntry{expires: now.Add(time.Minute)}, now)
	}
	if len(m) > maxCacheEntries {
		t.Fatalf("%d entries", len(m))
	}
	// Expired entries go first; live ones stay.
	m = map[int]decisionEntry{}
	for i := range maxCacheEntries {
		exp := now.Add(time.Minute)
		if i%2 == 0 {
			exp = now.Add(-time.Second)
		}
		m = remember(m, i, decisionEntry{expires: exp}, now)
	}
	m = remember(m, -1, decisionEntry{expires: now.Add(time.Minute)}, now)
	if len(m) != maxCacheEntries/2+1 {
		t.Fatalf("%d entries after dropping the expired, want %d", len(m), maxCacheEntries/2+1)
	}
	// A flood of refusals never pushes a grant out.
	m = map[int]decisionEntry{-1: {allowed: true, expires: now.Add(time.Minute)}}
	for i := range 3 * maxCacheEntries {
		m = remember(m, i, decisionEntry{expires: now.Add(time.Minute)}, now)
	}
	if e, ok := m[-1]; !ok || !e.allowed || len(m) > maxCacheEntries {
		t.Fatalf("after a flood of refusals: grant kept %v, %d entries", ok, len(m))
	}
}

// TestUnknownTokenFlood: made-up tokens beyond the burst are answered 429 without asking the
// API server; a token the cache knows is still answered from it.
func TestUnknownTokenFlood(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","status":{"authenticated":false}}`)
	}))
	defer srv.Close()
	cfg := restConfig(srv.URL)
	cfg.QPS, cfg.Burst = 10000, 10000 // the client's own limit out of the way: the Reviewer's is tested
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReviewer(cs.AuthenticationV1().TokenReviews(), cs.AuthorizationV1().SubjectAccessReviews())
	known := sha256.Sum256([]byte("scraper"))
	r.users[known] = userEntry{user: &authenticationv1.UserInfo{Username: "scraper"}, expires: time.Now().Add(time.Minute)}
	codes := map[int]int{}
	for i := range 500 {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Authorization", fmt.Sprintf("Bearer made-up-%d", i))
		r.Handler(logr.Discard(), http.NotFoundHandler()).ServeHTTP(rec, req)
		codes[rec.Code]++
	}
	if n := calls.Load(); n > ReviewBurst+ReviewRate*5 {
		t.Fatalf("%d TokenReviews for 500 made-up tokens, want at most about the burst (%d)", n, ReviewBurst)
	}
	if codes[http.StatusTooManyRequests] < 400 || codes[http.StatusUnauthorized] < ReviewBurst/2 {
		t.Fatalf("answers %v: want 401 for the reviewed and 429 for the rest", codes)
	}
	if u, err := r.Authenticate(context.Background(), "scraper"); err != nil || u == nil || u.Username != "scraper" {
		t.Fatalf("the known token after the flood: %v, %v", u, err)
	}
}

func TestDecisionKeyDistinguishes(t *testing.T) {
	a := &authenticationv1.UserInfo{Username: "a", Groups: []string{"g1", "g2"}}
	b := &authenticationv1.UserInfo{Username: "a", Groups: []string{"g1g2"}}
	c := &authenticationv1.UserInfo{Username: "a", Groups: []string{"g1", "g2"}, Extra: map[string]authenticationv1.ExtraValue{"scope": {"x"}}}
	keys := map[string]bool{}
	for _, k := range []string{decisionKey(a, "get", "/metrics"), decisionKey(b, "get", "/metrics"), decisionKey(c, "get", "/metrics"), decisionKey(a, "post", "/metrics"), decisionKey(a, "get", "/metricsx")} {
		if keys[k] {
			t.Fatalf("two questions share the key %q", k)
		}
		keys[k] = true
	}
}

func restConfig(host string) *rest.Config { return &rest.Config{Host: host} }
