// Package metricsauth guards the metrics endpoint the way kubebuilder's secure metrics do: the
// caller's bearer token is reviewed by the API server (TokenReview), and the user it names must
// be allowed to use the path's verb (SubjectAccessReview, e.g. get on the non-resource URL
// /metrics). Answers are cached for a short while, so a scraper costs the API server a review
// a minute, not one a scrape.
//
// It replaces controller-runtime's filter, which pulls k8s.io/apiserver (with CEL and
// OpenTelemetry) into the binary, mapped into every operator process for two API calls.
package metricsauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authnclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authzclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Cache lifetimes: as controller-runtime's filter (a minute for tokens, five for an allowed
// request, thirty seconds for a denied one), and ten seconds for a token the API server rejected.
const (
	TokenTTL        = time.Minute
	RejectedTTL     = 10 * time.Second
	AllowTTL        = 5 * time.Minute
	DenyTTL         = 30 * time.Second
	reviewTimeout   = 10 * time.Second
	maxCacheEntries = 4096
	// ReviewRate and ReviewBurst bound the TokenReviews for tokens not in the cache: a flood of
	// made-up tokens costs the API server this many reviews, and its senders 429s.
	ReviewRate  = 5
	ReviewBurst = 20
)

// Filter is a metricsserver.FilterProvider: the metrics server's handler behind Review.
func Filter(c *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	authn, err := authnclient.NewForConfigAndClient(c, httpClient)
	if err != nil {
		return nil, err
	}
	authz, err := authzclient.NewForConfigAndClient(c, httpClient)
	if err != nil {
		return nil, err
	}
	r := NewReviewer(authn.TokenReviews(), authz.SubjectAccessReviews())
	return func(log logr.Logger, next http.Handler) (http.Handler, error) {
		return r.Handler(log, next), nil
	}, nil
}

// Reviewer asks the API server who a token belongs to and what that user may do, and
// remembers the answers for their TTL.
type Reviewer struct {
	tokens    authnclient.TokenReviewInterface
	access    authzclient.SubjectAccessReviewInterface
	now       func() time.Time
	mu        sync.Mutex
	users     map[[sha256.Size]byte]userEntry
	decisions map[string]decisionEntry
	reviews   *rate.Limiter // TokenReviews of tokens not in the cache
}

// ErrTooManyReviews is a token the Reviewer did not send to the API server: too many unknown
// tokens came in at once.
var ErrTooManyReviews = errors.New("too many unknown tokens: not reviewed")

type userEntry struct {
	user    *authenticationv1.UserInfo // nil: not authenticated
	expires time.Time
}

type decisionEntry struct {
	allowed bool
	reason  string
	expires time.Time
}

// NewReviewer reviews tokens and access with these clients.
func NewReviewer(tokens authnclient.TokenReviewInterface, access authzclient.SubjectAccessReviewInterface) *Reviewer {
	return &Reviewer{tokens: tokens, access: access, now: time.Now,
		users: map[[sha256.Size]byte]userEntry{}, decisions: map[string]decisionEntry{},
		reviews: rate.NewLimiter(ReviewRate, ReviewBurst)}
}

// Handler serves next to callers whose token is valid and who may use the request's verb on
// its path: 401 without a valid bearer token, 403 when not allowed, 500 when the API server
// could not be asked.
func (r *Reviewer) Handler(log logr.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		token, ok := bearerToken(req)
		if !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		user, err := r.Authenticate(req.Context(), token)
		if errors.Is(err, ErrTooManyReviews) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "Too many requests", http.StatusTooManyRequests)
			return
		}
		if err != nil {
			log.Error(err, "reviewing a metrics caller's token")
			http.Error(w, "Authentication failed", http.StatusInternalServerError)
			return
		}
		if user == nil {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		verb := strings.ToLower(req.Method)
		allowed, reason, err := r.Authorize(req.Context(), user, verb, req.URL.Path)
		if err != nil {
			log.Error(err, "reviewing a metrics caller's access", "user", user.Username)
			http.Error(w, fmt.Sprintf("Authorization for user %s failed", user.Username), http.StatusInternalServerError)
			return
		}
		if !allowed {
			log.V(4).Info("metrics access denied", "user", user.Username, "verb", verb, "path", req.URL.Path, "reason", reason)
			http.Error(w, fmt.Sprintf("Authorization denied for user %s", user.Username), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// bearerToken is the token of an "Authorization: Bearer <token>" header.
func bearerToken(req *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(req.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
		return "", false
	}
	return token, true
}

// Authenticate returns the user the token belongs to, or nil when the API server does not
// accept it. Only the token's hash is kept.
func (r *Reviewer) Authenticate(ctx context.Context, token string) (*authenticationv1.UserInfo, error) {
	key := sha256.Sum256([]byte(token))
	r.mu.Lock()
	e, ok := r.users[key]
	r.mu.Unlock()
	if ok && r.now().Before(e.expires) {
		return e.user, nil
	}
	if !ok && !r.reviews.Allow() {
		return nil, ErrTooManyReviews // a token seen before (a scraper's, expired) is always reviewed
	}
	ctx, cancel := context.WithTimeout(ctx, reviewTimeout)
	defer cancel()
	res, err := r.tokens.Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("TokenReview: %w", err)
	}
	e = userEntry{expires: r.now().Add(RejectedTTL)}
	if res.Status.Authenticated {
		u := res.Status.User
		e = userEntry{user: &u, expires: r.now().Add(TokenTTL)}
	}
	r.mu.Lock()
	r.users = remember(r.users, key, e, r.now())
	r.mu.Unlock()
	return e.user, nil
}

// Authorize says whether the user may use verb on the non-resource path.
func (r *Reviewer) Authorize(ctx context.Context, u *authenticationv1.UserInfo, verb, path string) (bool, string, error) {
	key := decisionKey(u, verb, path)
	r.mu.Lock()
	e, ok := r.decisions[key]
	r.mu.Unlock()
	if ok && r.now().Before(e.expires) {
		return e.allowed, e.reason, nil
	}
	extra := make(map[string]authorizationv1.ExtraValue, len(u.Extra))
	for k, v := range u.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	ctx, cancel := context.WithTimeout(ctx, reviewTimeout)
	defer cancel()
	res, err := r.access.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra,
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
	}}, metav1.CreateOptions{})
	if err != nil {
		return false, "", fmt.Errorf("SubjectAccessReview: %w", err)
	}
	e = decisionEntry{allowed: res.Status.Allowed && !res.Status.Denied, reason: res.Status.Reason, expires: r.now().Add(DenyTTL)}
	if e.allowed {
		e.expires = r.now().Add(AllowTTL)
	}
	r.mu.Lock()
	r.decisions = remember(r.decisions, key, e, r.now())
	r.mu.Unlock()
	return e.allowed, e.reason, nil
}

// decisionKey names everything a SubjectAccessReview is asked about; NUL cannot occur in any
// of it, so different questions never share a key.
func decisionKey(u *authenticationv1.UserInfo, verb, path string) string {
	var b strings.Builder
	for _, s := range []string{verb, path, u.Username, u.UID} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	b.WriteString(strings.Join(u.Groups, "\x01"))
	keys := make([]string, 0, len(u.Extra))
	for k := range u.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(strings.Join(u.Extra[k], "\x01"))
	}
	return b.String()
}

type expiring interface {
	expiry() time.Time
	// granted is an entry that lets a caller in: kept over the refusals when the cache is full.
	granted() bool
}

func (e userEntry) expiry() time.Time     { return e.expires }
func (e decisionEntry) expiry() time.Time { return e.expires }
func (e userEntry) granted() bool         { return e.user != nil }
func (e decisionEntry) granted() bool     { return e.allowed }

// remember stores e under k. A full cache first drops what expired, then the refusals; when it
// holds nothing but live grants, a refusal is not stored, and a grant replaces an arbitrary
// entry. So callers with many made-up tokens can neither grow it without bound nor push the
// scrapers' answers out of it.
func remember[K comparable, E expiring](m map[K]E, k K, e E, now time.Time) map[K]E {
	if _, present := m[k]; present || len(m) < maxCacheEntries {
		m[k] = e
		return m
	}
	for key, old := range m {
		if !now.Before(old.expiry()) {
			delete(m, key)
		}
	}
	if len(m) >= maxCacheEntries {
		for key, old := range m {
			if !old.granted() {
				delete(m, key)
			}
		}
	}
	if len(m) >= maxCacheEntries {
		if !e.granted() {
			return m
		}
		for key := range m {
			delete(m, key)
			break
		}
	}
	m[k] = e
	return m
}
