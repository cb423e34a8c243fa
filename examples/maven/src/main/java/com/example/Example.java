package com.example;

import org.apache.commons.io.FilenameUtils;

/** The example library published by `lading run` and the Maven buildspec. */
public final class Example {
    private Example() {}

    /** A greeting, so the jar has a class to call. */
    public static String greeting(String name) {
        return "hello, " + name;
    }

    /** The extension of a file name, through the restored dependency. */
    public static String extension(String name) {
        return FilenameUtils.getExtension(name);
    }
}
