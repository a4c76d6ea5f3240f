module rigshift.io/test/cluster/pki

go 1.26.0
