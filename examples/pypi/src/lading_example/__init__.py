GREETING = "hello from lading-example"
