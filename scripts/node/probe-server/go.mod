module mlpipe.local/probe-server

go 1.22
