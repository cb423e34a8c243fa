module.exports = () => "hello from lading-example-npm";
