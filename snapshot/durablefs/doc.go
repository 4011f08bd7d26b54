// Package durablefs holds the file-system steps that make a directory of
// files crash-safe, shared by the snapshot store and the catalog store:
// fsyncing a directory so a rename or removal in it is durable, and an
// advisory lock file that keeps two writers out of one directory.
//
// It must never decide what files mean or how they are named; callers own
// their formats and their write order.
package durablefs
