USE [KnowledgeBase]
GO
/****** Object:  Table [dbo].[Categories]    Script Date: 17/02/2024 18:42:07 ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[Categories](
	[Id] [int] NOT NULL,
	[Name] [nvarchar](64) NOT NULL,
 CONSTRAINT [PK_Categories] PRIMARY KEY CLUSTERED 
(
	[Id] ASC
)WITH (PAD_INDEX = OFF, STATISTICS_NORECOMPUTE = OFF, IGNORE_DUP_KEY = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON, OPTIMIZE_FOR_SEQUENTIAL_KEY = OFF) ON [PRIMARY]
) ON [PRIMARY]
GO
/****** Object:  Table [dbo].[Articles]    Script Date: 17/02/2024 18:42:07 ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TABLE [dbo].[Articles](
	[Id] [int] IDENTITY(1,1) NOT NULL,
	[CategoryId] [int] NULL,
	[Title] [nvarchar](200) NOT NULL,
	[Body] [nvarchar](max) NULL,
	[Status] [varchar](16) NOT NULL,
	[UpdatedAt] [datetime2](7) NOT NULL,
 CONSTRAINT [PK_Articles] PRIMARY KEY CLUSTERED 
(
	[Id] ASC
)WITH (PAD_INDEX = OFF, STATISTICS_NORECOMPUTE = OFF, IGNORE_DUP_KEY = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON, OPTIMIZE_FOR_SEQUENTIAL_KEY = OFF) ON [PRIMARY]
) ON [PRIMARY] TEXTIMAGE_ON [PRIMARY]
GO
/****** Object:  Table [dbo].[ArticleHistory]    Script Date: 17/02/2024 18:42:07 ******/
CREATE TABLE [dbo].[ArticleHistory](
	[Id] [int] IDENTITY(1,1) NOT NULL,
	[ArticleId] [int] NOT NULL,
	[Title] [nvarchar](200) NULL,
	[ChangedAt] [datetime2](7) NOT NULL
) ON [PRIMARY]
GO
INSERT [dbo].[Categories] ([Id], [Name]) VALUES (1, N'Cooking')
INSERT [dbo].[Categories] ([Id], [Name]) VALUES (2, N'Programming')
INSERT [dbo].[Categories] ([Id], [Name]) VALUES (3, N'Travel')
INSERT [dbo].[Categories] ([Id], [Name]) VALUES (4, N'Gardening')
INSERT [dbo].[Categories] ([Id], [Name]) VALUES (5, N'Home')
GO
SET IDENTITY_INSERT [dbo].[Articles] ON 

INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (1, 1, N'How do I sharpen a kitchen knife with a whetstone?', N'Soak the stone for ten minutes if it is a water stone. Hold the blade at about 15 to 20 degrees and push it across the coarse side (around 1000 grit) from heel to tip, keeping the angle steady.' + CHAR(13) + CHAR(10) + N'' + CHAR(13) + CHAR(10) + N'Work one side until you can feel a slight burr along the whole edge on the other side, then switch sides. Repeat on the fine side (3000-6000 grit) with lighter pressure, and finish with a few alternating strokes to remove the burr.', N'published', CAST(N'2023-01-12T10:00:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (2, 1, N'What is the difference between baking soda and baking powder?', N'Baking soda is pure sodium bicarbonate: it needs an acid in the recipe (buttermilk, yoghurt, lemon juice, brown sugar) to release carbon dioxide. Baking powder already contains the acid, so it works with neutral ingredients.' + CHAR(13) + CHAR(10) + N'' + CHAR(13) + CHAR(10) + N'As a rough swap, 1 teaspoon of baking powder can replace 1/4 teaspoon of soda plus 1/2 teaspoon of cream of tartar.', N'published', CAST(N'2023-01-15T09:30:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (3, 2, N'How do I read a file line by line in Python without loading it into memory?', N'Iterate over the file object itself; it yields one line at a time:' + CHAR(13) + CHAR(10) + N'' + CHAR(13) + CHAR(10) + N'	with open("big.log", encoding="utf-8") as f:' + CHAR(13) + CHAR(10) + N'	    for line in f:' + CHAR(13) + CHAR(10) + N'	        process(line)' + CHAR(13) + CHAR(10) + N'' + CHAR(13) + CHAR(10) + N'Avoid f.read() and f.readlines() on large files: both build the whole content in memory. For binary data, read fixed-size chunks with f.read(65536) in a loop.', N'published', CAST(N'2023-02-01T14:20:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (4, 2, N'Why does my regular expression treat a backslash strangely?', N'In most languages the string literal is processed before the regex engine sees it, so "\d" in a normal string may reach the engine as something else. Use raw strings in Python (r"\d+") or double every backslash: a literal backslash in a pattern is written \\ in a regular string.', N'published', CAST(N'2023-02-08T11:45:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (5, 2, N'What does a 502 Bad Gateway error mean?', N'A proxy or load balancer (nginx, a CDN, a cloud load balancer) tried to reach your application server and got no valid response: the app crashed, timed out, is not listening on the expected port, or closed the connection. Check the application logs first, then the proxy''s error log for the upstream address it tried.', N'published', CAST(N'2023-02-20T16:05:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (6, 3, N'Do I need a visa for a layover?', N'It depends on the country and on whether you leave the airport. Many countries let you stay airside without a visa, but some (the United States and Canada, for example) require a visa or electronic authorisation even for a connection. Check the transit rules of the layover country for your passport, and remember separate tickets usually mean going through immigration to re-check bags.', N'published', CAST(N'2023-03-03T08:00:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (7, 3, N'How early should I book trains in Europe?', NULL, N'published', CAST(N'2023-03-10T12:00:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (8, 4, N'When is the best time to plant garlic?', N'Plant cloves in autumn, from October to early December in temperate climates, so they get a cold spell: garlic needs several weeks below 10 °C to split into cloves. Set them pointed end up, 2-3 cm deep and 15 cm apart, in free-draining soil. Harvest the following summer when the lower third of the leaves have turned yellow.', N'published', CAST(N'2023-03-22T07:45:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (9, 4, N'How do I start a compost heap?', N'Mix roughly equal volumes of "greens" (vegetable peelings, grass clippings, coffee grounds) and "browns" (cardboard, dry leaves, straw). Keep it as damp as a wrung-out sponge and turn it every few weeks to let air in. Leave out meat, dairy and cooked food, which attract rats. A well-managed heap turns into crumbly compost in six to twelve months.', N'published', CAST(N'2023-04-02T18:30:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (10, 5, N'How do I bleed a radiator?', NULL, N'published', CAST(N'2023-04-11T10:10:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (11, 5, N'How do I fix a dripping tap?', N'Turn off the water supply under the sink, open the tap to drain it, and remove the handle and headgear. A traditional tap usually needs a new rubber washer; a quarter-turn ceramic tap needs a new cartridge. Take the old part to the shop to match the size.', N'draft', CAST(N'2023-04-15T09:00:00.0000000' AS DateTime2))
GO
INSERT [dbo].[Articles] ([Id], [CategoryId], [Title], [Body], [Status], [UpdatedAt]) VALUES (12, 1, N'Can I substitute butter with oil in a cake?', N'Yes, in most sponge and muffin recipes: use about three quarters of the butter''s weight in a neutral oil. The cake will be moister and keep longer but taste less buttery, and creaming methods that rely on beating air into butter will rise a little less.', N'published', CAST(N'2023-05-05T15:00:00.0000000' AS DateTime2))
GO
SET IDENTITY_INSERT [dbo].[Articles] OFF
GO
ALTER TABLE [dbo].[ArticleHistory] ADD  DEFAULT (sysdatetime()) FOR [ChangedAt]
GO
/****** Object:  Trigger [dbo].[ArticleChanged]    Script Date: 17/02/2024 18:42:07 ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TRIGGER [dbo].[ArticleChanged] ON [dbo].[Articles] AFTER UPDATE AS
BEGIN
	SET NOCOUNT ON;
	-- a trigger body: these INSERTs are not data
	INSERT INTO [dbo].[ArticleHistory] ([ArticleId], [Title], [ChangedAt])
	SELECT [Id], [Title], SYSDATETIME() FROM inserted;
	INSERT [dbo].[ArticleHistory] ([ArticleId], [Title], [ChangedAt]) VALUES (0, N'audit', SYSDATETIME())
END
GO
ALTER TABLE [dbo].[Articles] ENABLE TRIGGER [ArticleChanged]
GO
