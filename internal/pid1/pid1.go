package pid1

// ExitException is the status when the payload was killed by a signal.
const ExitException = 255
