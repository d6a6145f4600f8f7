#!/bin/bash
# ansible-push: provisioning lands with its issue; until then the role says so honestly.
skip "role ansible-push is not implemented yet"
