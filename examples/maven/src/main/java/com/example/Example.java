package com.example;

/** The example library published by `lading run` and the Maven buildspec. */
public final class Example {
    private Example() {}

    /** A greeting, so the jar has a class to call. */
    public static String greeting(String name) {
        return "hello, " + name;
    }
}
