"""The recovery flow: state machine, steps, account matching, extension client, restoration."""
