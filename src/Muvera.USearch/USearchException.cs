// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.USearch;

/// <summary>An error reported by the native USearch library (for example an allocation failure while growing an
/// index), with <see cref="MuveraNativeException.NativeMessage"/> as the library reported it. Argument and file-format
/// problems are reported with the usual .NET exceptions instead.</summary>
public sealed class USearchException : MuveraNativeException
{
    /// <summary>Creates an exception with a default message.</summary>
    public USearchException()
        : base("The native USearch library reported an error.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public USearchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The cause.</param>
    public USearchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for a native error message.</summary>
    /// <param name="message">What failed, including the native message.</param>
    /// <param name="nativeMessage">The message exactly as the native library reported it.</param>
    internal USearchException(string message, string? nativeMessage)
        : base(message, nativeMessage, innerException: null)
    {
    }
}
