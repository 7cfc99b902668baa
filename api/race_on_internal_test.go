//go:build race

package api

// raceDetector: under -race, sync.Pool drops items at random (encoding/json
// pools its encoders, api its body buffers), so an allocation count varies
// from run to run. make test counts them in a run without it.
const raceDetector = true
