package phases

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

type scope struct {
	ran  []string
	stop bool
}

func step(name string, after time.Duration, err error, stop bool) Phase[*scope] {
	return Phase[*scope]{Name: name, Run: func(_ context.Context, s *scope) (ctrl.Result, error) {
		s.ran = append(s.ran, name)
		s.stop = stop
		return ctrl.Result{RequeueAfter: after}, err
	}}
}

func TestRun(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name    string
		phases  []Phase[*scope]
		ran     string
		after   time.Duration
		wantErr string
	}{
		{"all run, soonest requeue", []Phase[*scope]{step("a", 5*time.Second, nil, false), step("b", 0, nil, false), step("c", time.Second, nil, false)}, "a,b,c", time.Second, ""},
		{"an error stops and names the phase", []Phase[*scope]{step("a", 0, nil, false), step("b", 3*time.Second, boom, false), step("c", 0, nil, false)}, "a,b", 3 * time.Second, "b: boom"},
		{"done stops after the phase", []Phase[*scope]{step("a", 0, nil, true), step("b", 0, nil, false)}, "a", 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scope{}
			res, err := Run(context.Background(), s, tc.phases, func(s *scope) bool { return s.stop })
			if got := strings.Join(s.ran, ","); got != tc.ran {
				t.Errorf("ran %s, want %s", got, tc.ran)
			}
			if res.RequeueAfter != tc.after {
				t.Errorf("requeue after %v, want %v", res.RequeueAfter, tc.after)
			}
			if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) || (err != nil && !errors.Is(err, boom)) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}
