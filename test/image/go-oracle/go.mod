module memoh-test/go-oracle

go 1.21
