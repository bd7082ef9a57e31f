// Package dataplane sends real traffic through what the operator writes: a real ingress
// controller (Traefik, with its Ingress and ingress-nginx providers) reads the operator's
// Ingresses from a real API server, the real EndpointSlice controller derives the endpoints
// from the Service the operator wrote and Pod objects whose status the test sets, and a model
// server listens in a network namespace that stands in for the pod network.
//
// The harness (this package) is what the tests and make run start: a pod network in a
// network namespace (NewPodNetwork), model servers in it (ServeModel, ServeGRPCModel) and
// Traefik (StartTraefik). Everything it starts, Close (or the returned stop) removes.
package dataplane
