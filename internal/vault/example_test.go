package vault_test

import (
	"fmt"
	"log"

	"github.com/dissent-channel/dissent/internal/vault"
)

func ExampleSeal() {
	// A memo's data key, wrapped to each entitled reader.
	dataKey, err := vault.NewKey()
	if err != nil {
		log.Fatal(err)
	}
	reader, err := vault.NewIdentity()
	if err != nil {
		log.Fatal(err)
	}
	wrapped, err := vault.WrapKey(reader.Public().Box, dataKey)
	if err != nil {
		log.Fatal(err)
	}

	// The body, sealed to its memo, field and key version.
	sealed := vault.Seal(dataKey, vault.FieldAD("memo-1", "body", 1), []byte("We recommend a different course."))

	// The reader, signed in, unwraps the key and opens the body.
	key, err := reader.UnwrapKey(wrapped)
	if err != nil {
		log.Fatal(err)
	}
	body, err := vault.Open(key, vault.FieldAD("memo-1", "body", 1), sealed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(body))

	// The same ciphertext pasted into another memo's row does not open.
	_, err = vault.Open(key, vault.FieldAD("memo-2", "body", 1), sealed)
	fmt.Println(err)
	// Output:
	// We recommend a different course.
	// vault: cannot open sealed data
}

func ExampleSplitIdentity() {
	recovery, err := vault.NewIdentity()
	if err != nil {
		log.Fatal(err)
	}
	shares, err := vault.SplitIdentity(recovery, []string{"alice", "bob", "carol", "dave", "erin"}, 3)
	if err != nil {
		log.Fatal(err)
	}

	// Each custodian keeps a printed share; three of them come back.
	var returned []vault.Share
	for _, i := range []int{4, 0, 2} {
		s, err := vault.ParseShare(shares[i].Encode())
		if err != nil {
			log.Fatal(err)
		}
		returned = append(returned, s)
	}
	rebuilt, err := vault.JoinIdentity(returned)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rebuilt.Public().Box == recovery.Public().Box)

	// Two are not enough.
	_, err = vault.JoinIdentity(returned[:2])
	fmt.Println(err)
	// Output:
	// true
	// vault: too few recovery shares: 2 given, 3 needed
}
