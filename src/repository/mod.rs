//! Where packages live: CodeArtifact (through aws-sdk-codeartifact) or a plain registry URL.

pub mod codeartifact;
