#!/bin/sh
# Example `stamen gate` hook: report the VM that was added or removed.
# A real hook would start (add) or stop (remove) an agent for the VM, e.g.
# start the agent with "$STAMEN_VM_CONTEXT" in the background and record its PID.
printf 'gate hook: %s VM %s (role %s), context %s\n' \
    "$STAMEN_GATE_EVENT" "$STAMEN_VM_ID" "$STAMEN_VM_ROLE" "$STAMEN_VM_CONTEXT" >&2
