module ecr-token-rotator/test/bed/webhook

go 1.22
