# ruff: noqa: E501, W291 - dumps have long lines and trailing spaces, as the tools write them
"""Small dumps in the shapes real tools write them, each with the traps extract-sql must survive."""

MYSQLDUMP = r"""-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)
--
-- Host: localhost    Database: films
-- ------------------------------------------------------
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!50503 SET NAMES utf8mb4 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;

DROP TABLE IF EXISTS `film`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
CREATE TABLE `film` (
  `film_id` smallint unsigned NOT NULL AUTO_INCREMENT,
  `title` varchar(128) NOT NULL,
  `description` text COMMENT 'may be NULL; it\'s free text',
  `poster` blob,
  PRIMARY KEY (`film_id`),
  KEY `idx_title` (`title`)
) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4;
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `film` WRITE;
/*!40000 ALTER TABLE `film` DISABLE KEYS */;
INSERT INTO `film` VALUES (1,'ACADEMY DINOSAUR','An epic drama; a \"feminist\" must battle a teacher',X'89504E47'),(2,'ACE GOLDFINGER','It\'s a tale\nin two lines -- with # signs and /* no comment */',NULL),(3,'ADAPTATION HOLES',NULL,0x00FF),(4,'AFFAIR PREJUDICE','back\\slash, tab\there, nul\0, ctrl-z\Z, O''Neil',NULL);
/*!40000 ALTER TABLE `film` ENABLE KEYS */;
UNLOCK TABLES;
-- INSERT INTO `film` VALUES (9,'in a -- comment','no',NULL);
# INSERT INTO `film` VALUES (10,'in a # comment','no',NULL);
/*!50003 SET @saved_sql_mode = @@sql_mode */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `ins_film` AFTER INSERT ON `film` FOR EACH ROW BEGIN
    INSERT INTO film_text (film_id, title, description)
        VALUES (new.film_id, new.title, new.description);
    INSERT INTO `film` VALUES (99,'trigger body','not data',NULL);
  END */;;
DELIMITER ;
/*!50003 SET sql_mode = @saved_sql_mode */ ;
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;

-- Dump completed on 2024-02-17 18:42:07
"""

SEQUEL_PRO = r"""# ************************************************************
# Sequel Pro SQL dump
# Version 4541
#
# http://www.sequelpro.com/
# https://github.com/sequelpro/sequelpro
#
# Host: 127.0.0.1 (MySQL 5.7.25)
# Database: recipes
# Generation Time: 2019-03-04 10:11:12 +0000
# ************************************************************


/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;


# Dump of table recipes
# ------------------------------------------------------------

DROP TABLE IF EXISTS `recipes`;

CREATE TABLE `recipes` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `name` varchar(100) NOT NULL DEFAULT '',
  `steps` text,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

LOCK TABLES `recipes` WRITE;
/*!40000 ALTER TABLE `recipes` DISABLE KEYS */;

INSERT INTO `recipes` (`id`, `name`, `steps`)
VALUES
	(1,'Pancakes','Whisk 200 g flour, 2 eggs and 300 ml milk.\nRest 30 min.'),
	(2,'Shakshuka','Soften onions; add peppers and tomatoes;\ncrack in the eggs.'),
	(3,'Toast',NULL);

/*!40000 ALTER TABLE `recipes` ENABLE KEYS */;
UNLOCK TABLES;



/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
"""

PHPMYADMIN = r"""-- phpMyAdmin SQL Dump
-- version 5.2.1
-- https://www.phpmyadmin.net/
--
-- Host: 127.0.0.1
-- Generation Time: Feb 17, 2024 at 06:42 PM

SET SQL_MODE = "NO_AUTO_VALUE_ON_ZERO";
START TRANSACTION;
SET time_zone = "+00:00";

DELIMITER $$
--
-- Procedures
--
CREATE DEFINER=`root`@`localhost` PROCEDURE `add_tip` (IN `t` TEXT)   BEGIN
    INSERT INTO `tips` (`id`, `body`) VALUES (0, t);
END$$

DELIMITER ;

CREATE TABLE `tips` (
  `id` int(11) NOT NULL,
  `body` text NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

INSERT INTO `tips` (`id`, `body`) VALUES
(1, 'Rest the dough overnight; it\'s worth it.'),
(2, 'Prune roses in late winter.\r\nNot in autumn.');

COMMIT;
"""

PG_DUMP = r"""--
-- PostgreSQL database dump
--

\restrict 3kTq9ZpR2

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);

CREATE FUNCTION public.log_note() RETURNS trigger
    LANGUAGE plpgsql
    AS $_$
BEGIN
    INSERT INTO public.audit (note_id, body) VALUES (NEW.id, 'it''s; logged');
    RETURN NEW;
END;
$_$;

CREATE TABLE public.notes (
    id integer NOT NULL,
    title text NOT NULL,
    body text,
    tags text[] DEFAULT '{}'::text[]
);

CREATE TABLE public.audit (
    note_id integer,
    body text
);

COPY public.notes (id, title, body, tags) FROM stdin;
1	Tabs	a\tb\\c	{x,y}
2	Newlines	line1\nline2\r\nline3	{}
3	Null body	\N	\N
4	Backslash N	\\N is not null here	{}
5	Octal	caf\303\251 \101	{}
\.

INSERT INTO public.notes VALUES (6, 'C:\path\', 'standard strings keep \ as it is', '{}');
INSERT INTO public.notes (id, title, body, tags) OVERRIDING SYSTEM VALUE VALUES (7, E'It\'s E', E'tab\there\\n', '{a}'::text[]);
INSERT INTO public.notes VALUES (8, 'multi
line; with a semicolon', $$dollar 'quoted'$$, NULL);

\connect notes

CREATE TRIGGER note_logged AFTER INSERT ON public.notes FOR EACH ROW EXECUTE FUNCTION public.log_note();

--
-- PostgreSQL database dump complete
--

\unrestrict 3kTq9ZpR2
"""

SQLITE_DUMP = r'''PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE tips(id INTEGER PRIMARY KEY, topic TEXT, tip TEXT, photo BLOB);
INSERT INTO tips VALUES(1,'garden',replace('Water early;\nnot at noon.','\n',char(10)),NULL);
INSERT INTO tips VALUES(2,'code','Use ''quotes'' and [brackets]; -- not a comment',X'00FF10');
INSERT INTO "tips" VALUES(3,'travel',replace(replace('Line\r\nbreaks','\r',char(13)),'\n',char(10)),NULL);
INSERT INTO tips VALUES(4,'cooking',NULL,NULL);
CREATE TABLE IF NOT EXISTS "odd ""name"""(a,b);
INSERT INTO "odd ""name""" VALUES(1,unistr('caf\00e9'));
CREATE TRIGGER tips_audit AFTER INSERT ON tips BEGIN
  INSERT INTO tips VALUES (100, 'trigger', 'not data', NULL);
  SELECT CASE WHEN new.id > 10 THEN RAISE(ABORT, 'too many; stop') END;
END;
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('tips',4);
COMMIT;
'''

MSSQL_SCRIPT = """USE [Forum]
GO
/****** Object:  Table [dbo].[Posts]    Script Date: 17/02/2024 18:42:07 ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[Posts](
\t[Id] [int] IDENTITY(1,1) NOT NULL,
\t[Title] [nvarchar](200) NOT NULL,
\t[Body] [nvarchar](max) NULL,
\t[PostedAt] [datetime] NOT NULL,
 CONSTRAINT [PK_Posts] PRIMARY KEY CLUSTERED 
(
\t[Id] ASC
)WITH (PAD_INDEX = OFF, IGNORE_DUP_KEY = OFF) ON [PRIMARY]
) ON [PRIMARY] TEXTIMAGE_ON [PRIMARY]
GO
SET IDENTITY_INSERT [dbo].[Posts] ON 

INSERT [dbo].[Posts] ([Id], [Title], [Body], [PostedAt]) VALUES (1, N'DON''T say N''hi''', N'IN''N''OUT; burger' + CHAR(13) + CHAR(10) + N'second line', CAST(N'2023-05-01T10:00:00.000' AS DateTime))
INSERT [dbo].[Posts] ([Id], [Title], [Body], [PostedAt]) VALUES (2, N'Brackets [x] and GO', NULL, CAST(N'2023-05-02T11:30:00.000' AS DateTime))
GO
INSERT INTO [dbo].[Posts] VALUES (3, N'No column list', N'multi
line
GO
still inside the string', '2023-05-03')
GO
SET IDENTITY_INSERT [dbo].[Posts] OFF
GO
CREATE TRIGGER [dbo].[PostsAudit] ON [dbo].[Posts] AFTER INSERT AS
BEGIN
\tINSERT [dbo].[Posts] ([Title], [Body], [PostedAt]) VALUES (N'trigger', N'not data', GETDATE());
\tINSERT INTO [dbo].[Posts] VALUES (99, N'x', N'y', GETDATE())
END
GO
"""
