package controller

import (
	"maps"
	"testing"
)

func TestInterimPorts(t *testing.T) {
	ports := map[string]int32{"http": 30800, "grpc": 30801}
	cases := []struct {
		name    string
		current map[string]int32
		refused []int32
		want    map[string]int32 // nil: no interim apply
	}{
		{"the refused port falls back on the live one", map[string]int32{"http": 30800, "grpc": 30850}, []int32{30801}, map[string]int32{"http": 30800, "grpc": 30850}},
		{"each refused port has its own fallback", map[string]int32{"http": 30860, "grpc": 30850}, []int32{30800, 30801}, map[string]int32{"http": 30860, "grpc": 30850}},
		{"no Service: nothing to keep", map[string]int32{}, []int32{30801}, nil},
		{"the Service lacks that port", map[string]int32{"http": 30800}, []int32{30801}, nil},
		{"the live port is refused too", map[string]int32{"http": 30800, "grpc": 30801}, []int32{30801}, nil},
		{"nothing refused", map[string]int32{"http": 30800, "grpc": 30801}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := interimPorts(ports, tc.current, tc.refused)
			if ok != (tc.want != nil) || !maps.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, ok, tc.want)
			}
			if ports["grpc"] != 30801 || ports["http"] != 30800 {
				t.Fatal("the asked ports were changed")
			}
		})
	}
}
