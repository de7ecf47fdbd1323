from companion.cli import main

if __name__ == "__main__":  # not when a child process imports the main module again
    main()
