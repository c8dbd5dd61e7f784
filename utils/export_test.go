package utils

// HoldSlot takes one hashing slot until the returned func is called, so a
// test can fill the hasher without racing real hashes.
func (h *Hasher) HoldSlot() func() {
	h.slots <- struct{}{}
	return func() { <-h.slots }
}
