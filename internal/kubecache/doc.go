// Package kubecache is how the operator reads the cluster: the manager's cache settings and
// the transforms that keep only what the operator reads of each object (CacheOptions), the
// field indexes its reconcilers and map functions look objects up by (SetupIndexes), reads of
// the informers' stores without copies (Objects, IndexedKeys, Indexer), and a REST mapper that
// remembers what it found (NewRESTMapper). It holds no reconciler logic.
package kubecache
