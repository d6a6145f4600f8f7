#!/bin/bash
# managed: provisioning lands with its issue; until then the role says so honestly.
skip "role managed is not implemented yet"
