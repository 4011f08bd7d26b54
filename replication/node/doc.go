// Package node runs replication on a Reprise node: it is the edge around the
// pure engines of package replication. It owns one goroutine that steps the
// engine in force (a Primary when the control plane assigns this node, a
// Replica otherwise) and carries out the commands each step returns, the
// replication listener and the connections to peers (package transport),
// the writer hook that ships records and holds acknowledgements until the
// durability mode is met, and the workers that store, apply and install what
// a replica receives through the executor, so that a replica applies every
// record through the same sealed catalog and checks the recorded state hash
// at every index.
//
// It never decides recovery (the engine does), never decides identity or
// epochs (the control plane does), never lets the executor acknowledge a
// write the engine has not committed, and never serves a replica's state
// past the committed index it knows.
package node
