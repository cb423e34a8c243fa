package com.example;

import org.apache.commons.io.FilenameUtils;

/** The example library: one call into a dependency resolved through the repository. */
public final class Example {
    private Example() {}

    /** The extension of a file name ("tgz" for "lading-example-1.0.0.tgz"). */
    public static String extension(String name) {
        return FilenameUtils.getExtension(name);
    }
}
