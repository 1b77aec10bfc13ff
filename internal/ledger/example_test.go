package ledger_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dissent-channel/dissent/internal/ledger"
)

// A submission is appended, a checkpoint signed, and the author's receipt —
// leaf, index, checkpoint, inclusion proof — checked with no server.
func Example() {
	ctx := context.Background()
	s := new(ledger.MemStorage) // in the service: the store's transaction

	nonce, err := ledger.NewActorNonce() // sealed to the author, never stored in clear
	if err != nil {
		panic(err)
	}
	leaf, err := ledger.Leaf{
		Version:     ledger.LeafVersion,
		Time:        time.Date(2016, 6, 20, 14, 3, 9, 0, time.UTC),
		Action:      "memo.submit",
		Memo:        "01J0ZK3V7Q",
		Role:        ledger.RoleAuthor,
		ActorCommit: ledger.ActorCommitment("user-42", nonce),
		Content:     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Revision:    3,
	}.Encode()
	if err != nil {
		panic(err)
	}
	index, err := ledger.Append(ctx, s, leaf)
	if err != nil {
		panic(err)
	}

	skey, vkey, err := ledger.GenerateKey("dissent.example/ledger")
	if err != nil {
		panic(err)
	}
	root, err := ledger.TreeHash(ctx, s, index+1)
	if err != nil {
		panic(err)
	}
	note, err := ledger.SignCheckpoint(skey, "dissent.example/ledger", index+1, root)
	if err != nil {
		panic(err)
	}
	proof, err := ledger.ProveInclusion(ctx, s, index, index+1)
	if err != nil {
		panic(err)
	}

	// Later, offline, with only the receipt and the ledger's public key:
	cp, err := ledger.OpenCheckpoint(note, vkey)
	if err != nil {
		panic(err)
	}
	fmt.Println(ledger.VerifyInclusion(leaf, index, proof, cp))
	fmt.Println(ledger.CheckActorCommitment(ledger.Leaf{}.ActorCommit, "user-42", nonce)) // an empty commitment is no one's
	// Output:
	// <nil>
	// false
}
