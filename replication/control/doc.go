// Package control is the identity authority of replication: it decides which
// node is primary, the membership and the epoch, and hands every node the
// same decision as an Assignment. Raft runs an embedded hashicorp/raft group
// among the nodes (with raft-boltdb as its durable log and stable store): the
// raft leader is the primary, and every time a node newly acquires raft
// leadership it picks the successor with replication.ChooseSuccessor, hands
// leadership to that node if it is not itself, and commits an assignment
// with the epoch bumped. StaticPlane is the operator-set mode for two nodes.
//
// It never choreographs recovery (that is the primary's job), never assigns
// a node ChooseSuccessor refused, and never lets an epoch go backwards: the
// replicated state machine ignores any assignment whose epoch is not greater
// than the current one.
package control
